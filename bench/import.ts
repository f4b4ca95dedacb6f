import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandExists, fmtRate, printRows, runPhase, timeCommand } from './bench-util.ts';
import { generateBenchCapture } from './generate-capture.ts';

const PACKETS = Number(process.env.BENCH_IMPORT_PACKETS ?? 1_000_000);
const SMALL_PACKETS = Math.floor(PACKETS / 4);
// The memory table's larger file: the file of the rate table unless asked for another size (85,000,000 packets make
// a 10 GB pcap, whose import takes minutes; the rate table's baselines would take an hour on it).
const MEMORY_PACKETS = Number(process.env.BENCH_IMPORT_MEMORY_PACKETS ?? PACKETS);

/**
 * `npm run bench -- import`: reads and imports a generated capture of 1,000,000 Ethernet/IPv4/UDP packets (pcap and
 * pcapng), against two baselines measured in the same run: pcap-parser (the npm pcap reader) and tshark's field export.
 * DuckDB storing the same rows from memory, with nothing to read or decode, is the ceiling an import has on the
 * machine. Peak RSS is also measured on a file a quarter the size, to show memory stays flat in the size of the file
 * (`BENCH_IMPORT_MEMORY_PACKETS` sets the larger one's size).
 */
export async function benchImport(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-import-'));
  try {
    const files = {
      pcap: join(dir, 'bench.pcap'),
      pcapng: join(dir, 'bench.pcapng'),
      small: join(dir, 'small.pcap'),
    };
    generateBenchCapture(files.pcap, PACKETS, 'pcap');
    generateBenchCapture(files.pcapng, PACKETS, 'pcapng');
    generateBenchCapture(files.small, SMALL_PACKETS, 'pcap');
    const sizeMb = statSync(files.pcap).size / 1e6;
    process.stdout.write(`import benchmark: ${PACKETS.toLocaleString('en-US')} packets, pcap ${sizeMb.toFixed(0)} MB\n`);

    const rows: (string | number)[][] = [];
    // tshark reads both formats at the same rate (measured); one run on the pcap is the baseline for both.
    let tsharkRate: number | undefined;
    if (commandExists('tshark')) {
      const seconds = timeCommand('tshark', ['-r', files.pcap, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'udp.srcport', '-e', 'udp.dstport']);
      if (seconds !== undefined) {
        tsharkRate = PACKETS / seconds;
        rows.push(['tshark -T fields (pcap)', fmtRate(tsharkRate), seconds.toFixed(2), '-', '1.0x']);
      }
    } else {
      process.stdout.write('tshark not on PATH: its baseline is not measured\n');
    }
    const baseline = await runPhase('import-phase.ts', ['pcap-parser', files.pcap]);
    rows.push(['pcap-parser 0.2.1 (pcap)', fmtRate(baseline.items / baseline.seconds), baseline.seconds.toFixed(2), baseline.maxRssMb.toFixed(0), ratio(baseline, tsharkRate)]);
    let importedPcap: { items: number; seconds: number } | undefined;
    for (const [phase, label] of [['read', 'read frames'], ['parse', 'parse to UDP'], ['import', 'import into DuckDB']] as const) {
      for (const format of ['pcap', 'pcapng'] as const) {
        const db = join(dir, `${phase}-${format}.duckdb`);
        const result = await runPhase('import-phase.ts', [phase, files[format], db]);
        if (phase === 'import' && format === 'pcap') importedPcap = result;
        rows.push([`${label} (${format})`, fmtRate(result.items / result.seconds), result.seconds.toFixed(2), result.maxRssMb.toFixed(0), ratio(result, tsharkRate)]);
      }
    }
    // The ceiling an import has here: DuckDB storing the very rows the pcap import above stored, read from memory.
    const storing = await runPhase('import-phase.ts', ['store-only', join(dir, 'import-pcap.duckdb')]);
    rows.push(['DuckDB storing the same rows alone', fmtRate(storing.items / storing.seconds), storing.seconds.toFixed(2), '-', ratio(storing, tsharkRate)]);
    printRows('packets per second (higher is better); ratio against tshark on the same file', ['what', 'packets/s', 'seconds', 'peak RSS MB', 'vs tshark'], rows);
    if (importedPcap !== undefined) {
      const share = (100 * (importedPcap.items / importedPcap.seconds)) / (storing.items / storing.seconds);
      process.stdout.write(`the pcap import is ${share.toFixed(0)}% of DuckDB's storing of its rows alone\n`);
    }

    const smallMb = statSync(files.small).size / 1e6;
    const smallImport = await runPhase('import-phase.ts', ['import', files.small, join(dir, 'small.duckdb')]);
    rmSync(join(dir, 'small.duckdb'), { force: true });
    let big = files.pcap;
    if (MEMORY_PACKETS !== PACKETS) {
      for (const file of Object.values(files)) rmSync(file, { force: true });
      big = join(dir, 'memory.pcap');
      generateBenchCapture(big, MEMORY_PACKETS, 'pcap');
    }
    const bigImport = await runPhase('import-phase.ts', ['import', big, join(dir, 'big.duckdb')]);
    printRows('memory in the size of the file (import, pcap)', ['packets', 'file MB', 'seconds', 'peak RSS MB'], [
      [SMALL_PACKETS.toLocaleString('en-US'), smallMb.toFixed(0), smallImport.seconds.toFixed(1), smallImport.maxRssMb.toFixed(0)],
      [MEMORY_PACKETS.toLocaleString('en-US'), (statSync(big).size / 1e6).toFixed(0), bigImport.seconds.toFixed(1), bigImport.maxRssMb.toFixed(0)],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ratio(result: { items: number; seconds: number }, tshark: number | undefined): string {
  return tshark === undefined ? '-' : `${(result.items / result.seconds / tshark).toFixed(1)}x`;
}
