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
  await readCaptureFile(file, () => items++);
  reportPhase({ items, seconds: seconds() });
} else if (phase === 'parse') {
  let items = 0;
  const decoder = new FrameDecoder(() => items++);
  await readCaptureFile(file, (frame) => decoder.decode(frame));
  reportPhase({ items, seconds: seconds() });
} else if (phase === 'import') {
  rmSync(db, { force: true });
  const result = await withStore(db, (store) => importCaptures(store, { files: [file] }));
  reportPhase({ items: result.captures[0]?.keptDatagrams ?? 0, seconds: seconds() });
} else {
  throw new Error(`unknown phase ${phase}`);
}
