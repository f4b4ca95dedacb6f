import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandExists, fmtRate, printRows, runPhase, timeCommand } from './bench-util.ts';
import { generateBenchCapture } from './generate-capture.ts';

const PACKETS = Number(process.env.BENCH_IMPORT_PACKETS ?? 1_000_000);
const SMALL_PACKETS = Math.floor(PACKETS / 4);
// The size table's largest file: four times the rate table's unless asked for another size (85,000,000 packets make
// a 10 GB pcap, whose import takes minutes; the rate table's baselines would take an hour on it).
const LARGE_PACKETS = Number(process.env.BENCH_IMPORT_MEMORY_PACKETS ?? 4 * PACKETS);

/**
 * `npm run bench -- import`: reads and imports a generated capture of 1,000,000 Ethernet/IPv4/UDP packets (pcap and
 * pcapng), against two baselines measured in the same run: pcap-parser (the npm pcap reader) and tshark's field export.
 * DuckDB storing the same rows from memory, with nothing to read or decode, is the ceiling an import has on the
 * machine. Then the import of both formats at a quarter and four times that size: peak RSS stays flat in the size of
 * the file, and the rate at each size splits into what an import costs whatever the file (`BENCH_IMPORT_MEMORY_PACKETS`
 * sets the largest size).
 */
export async function benchImport(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-import-'));
  try {
    const files = {
      pcap: join(dir, 'bench.pcap'),
      pcapng: join(dir, 'bench.pcapng'),
    };
    generateBenchCapture(files.pcap, PACKETS, 'pcap');
    generateBenchCapture(files.pcapng, PACKETS, 'pcapng');
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

    await benchSizes(dir, files);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The import at three sizes of file. A short file's rate is mostly what every import costs whatever its size (a fresh
 * store, DuckDB's memory and the code's first use, the last chunks stored after the file is read, the capture's
 * summary and checkpoint); the two larger files give that cost and the rate beyond it, which is what a capture of
 * tens of millions of packets imports at.
 */
async function benchSizes(dir: string, files: { pcap: string; pcapng: string }): Promise<void> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const format of ['pcap', 'pcapng'] as const) {
    // The rate table's file is imported again here; the other two are made for this table and removed after it.
    const sizes = [
      { packets: SMALL_PACKETS, file: join(dir, `small.${format}`), made: true },
      { packets: PACKETS, file: files[format], made: false },
      { packets: LARGE_PACKETS, file: join(dir, `large.${format}`), made: true },
    ];
    const measured: { packets: number; seconds: number }[] = [];
    for (const { packets, file, made } of sizes) {
      if (made) generateBenchCapture(file, packets, format);
      const db = join(dir, `size-${format}.duckdb`);
      const result = await runPhase('import-phase.ts', ['import', file, db]);
      rmSync(db, { force: true });
      rows.push([format, packets.toLocaleString('en-US'), (statSync(file).size / 1e6).toFixed(0), result.seconds.toFixed(2), fmtRate(result.items / result.seconds), result.maxRssMb.toFixed(0)]);
      if (made) rmSync(file, { force: true });
      measured.push({ packets: result.items, seconds: result.seconds });
    }
    const [, middle, large] = measured as [unknown, { packets: number; seconds: number }, { packets: number; seconds: number }];
    if (large.seconds > middle.seconds && large.packets > middle.packets) {
      const beyond = (large.packets - middle.packets) / (large.seconds - middle.seconds);
      const fixed = middle.seconds - middle.packets / beyond;
      notes.push(`${format}: ${fixed.toFixed(2)} s whatever the file's size, then ${fmtRate(beyond)} packets/s`);
    }
  }
  printRows('the import by the size of the file (memory stays flat; the rate grows towards the rate beyond the first packets)', ['format', 'packets', 'file MB', 'seconds', 'packets/s', 'peak RSS MB'], rows);
  for (const note of notes) process.stdout.write(`${note}\n`);
}

function ratio(result: { items: number; seconds: number }, tshark: number | undefined): string {
  return tshark === undefined ? '-' : `${(result.items / result.seconds / tshark).toFixed(1)}x`;
}
