// One phase of the import benchmark, run in its own process: `import-phase.ts <phase> <file> [db]`.
import { rmSync } from 'node:fs';
import { parse } from 'pcap-parser';
import { readCaptureFile } from '../src/capture/capture-reader.ts';
import { FrameDecoder } from '../src/capture/frame-decoder.ts';
import { importCaptures } from '../src/capture/import-capture.ts';
import { withStore } from '../src/store/store.ts';
import { reportPhase } from './bench-util.ts';

const [phase, file = '', db = ''] = process.argv.slice(2);
const started = process.hrtime.bigint();
const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;

if (phase === 'pcap-parser') {
  let items = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = parse(file);
    parser.on('packet', () => items++);
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  reportPhase({ items, seconds: seconds() });
} else if (phase === 'read') {
  let items = 0;
  await readCaptureFile(file, () => items++, { reuseBuffers: true });
  reportPhase({ items, seconds: seconds() });
} else if (phase === 'parse') {
  let items = 0;
  const decoder = new FrameDecoder(() => items++);
  await readCaptureFile(file, (frame) => decoder.decode(frame), { reuseBuffers: true });
  reportPhase({ items, seconds: seconds() });
} else if (phase === 'import') {
  rmSync(db, { force: true });
  const result = await withStore(db, (store) => importCaptures(store, { files: [file] }));
  reportPhase({ items: result.captures[0]?.keptDatagrams ?? 0, seconds: seconds() });
} else if (phase === 'store-only') {
  // DuckDB alone storing the rows an import stored (`file` is that import's store): the rows are read into memory
  // first, and only the storing is timed, on the same threads an import's storing has. What an import cannot beat here.
  await withStore(file, async (store) => {
    await store.exec('CREATE TEMP TABLE held AS SELECT * FROM capture_packets');
    await store.exec('CREATE TABLE stored AS SELECT * FROM held LIMIT 0');
    const from = process.hrtime.bigint();
    await store.exec('INSERT INTO stored SELECT * FROM held');
    await store.exec('CHECKPOINT');
    const [count] = await store.query('SELECT count(*)::INTEGER AS n FROM stored');
    reportPhase({ items: Number(count?.n ?? 0), seconds: Number(process.hrtime.bigint() - from) / 1e9 });
  });
} else {
  throw new Error(`unknown phase ${phase}`);
}
