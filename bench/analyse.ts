import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRun, finishRun } from '../src/store/runs.ts';
import { withStore, type Store } from '../src/store/store.ts';
import type { StepTiming } from '../src/analyse/step-clock.ts';
import type { AnalysisProcessReport } from './analyse-process.ts';
import { fmtRate, printRows, runPhase } from './bench-util.ts';
import { envForAnalysis } from '../src/cli/analysis-allocator.js';

const UPLINKS = Number(process.env.BENCH_ANALYSE_UPLINKS ?? 2_000_000);

interface AnalysedSize {
  uplinks: number;
  observations: number;
  generatedSeconds: number;
  seconds: number;
  /** One pass over the observations (a GROUP BY with a quantile): what reading the run costs at least. */
  anchorSeconds: number;
  steps: StepTiming[];
  verdict: string;
  findings: string[];
  peakRssMb: number;
  pages: string | undefined;
}

/**
 * `npm run bench -- analyse`: runs of 200,000 and 2,000,000 uplink packets through a mirroring relay
 * (BENCH_ANALYSE_UPLINKS sets the larger), written straight into the store in SQL (sends, and 5 observation legs
 * each: relay>primary, relay>mirror, primary>relay, mirror>relay, relay>device = 10,000,000 observations), then
 * analysed. 1% of the mirror's copies are lost and a few of its ACKs differ, so every path of the analysis does real
 * work. The one pass and the analysis each run in a process of their own, as `parity analyse` does. Prints each
 * size's time against one pass over its observations, how the time grows with the run, and where the larger run's
 * time went, step by step.
 */
export async function benchAnalyse(): Promise<void> {
  const sizes = [await analyseSize(Math.round(UPLINKS / 10)), await analyseSize(UPLINKS)];
  printRows(
    'analysis of a run (observations = 5 legs per uplink packet, 1% of the mirror\'s lost)',
    ['uplinks', 'observations', 'generated s', 'analysis s', 'observations/s', 'one pass s', 'x one pass', 'verdict'],
    sizes.map((s) => [
      s.uplinks.toLocaleString('en-US'),
      s.observations.toLocaleString('en-US'),
      s.generatedSeconds.toFixed(1),
      s.seconds.toFixed(2),
      fmtRate(s.observations / s.seconds),
      s.anchorSeconds.toFixed(2),
      (s.seconds / s.anchorSeconds).toFixed(0),
      s.verdict,
    ]),
  );
  const [small, large] = sizes as [AnalysedSize, AnalysedSize];
  process.stdout.write(`${(large.observations / small.observations).toFixed(1)}x the observations took ${(large.seconds / small.seconds).toFixed(1)}x the time; peak RSS of the larger analysis ${large.peakRssMb.toFixed(0)} MB\n`);
  for (const size of sizes) process.stdout.write(`${size.observations.toLocaleString('en-US')} observations analysed in ${size.pages ?? 'DuckDB\'s pool as opened (a run too small to weigh page sizes)'}\n`);
  printRows(
    `where the time of the ${large.observations.toLocaleString('en-US')}-observation analysis went`,
    ['step', 'seconds', 'share'],
    large.steps.map((step) => [step.step, step.seconds.toFixed(2), `${((100 * step.seconds) / large.seconds).toFixed(1)}%`]),
  );
  process.stdout.write(`findings: ${large.findings.join(' | ')}\n`);
}

async function analyseSize(uplinks: number): Promise<AnalysedSize> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-analyse-'));
  const path = join(dir, 'analyse.duckdb');
  try {
    const generated = process.hrtime.bigint();
    // Written by one store and analysed by another, as `parity analyse` meets a run a replay or an import recorded: the
    // analysis reads the run from the file, not from the writer's pool (at 100M observations the writer's pool held
    // the whole run beside the analysis's tables, and its time grew 10.1x for 10x where a store opened afresh took 65 s).
    await withStore(path, async (writer) => {
      const runId = await createRun(writer, { name: 'bench', kind: 'replay', protocol: 'generic', startedNs: 1_000_000_000n });
      await generateRun(writer, runId, uplinks);
      await finishRun(writer, runId, 'completed', 2_000_000_000n + BigInt(uplinks) * 100_000n);
    });
    const generatedSeconds = Number(process.hrtime.bigint() - generated) / 1e9;
    // Each in a process of its own (bench/analyse-process.ts), as `parity analyse` runs: with glibc set as it sets it
    // (src/cli/analysis-allocator.js), the one pass too.
    const env = envForAnalysis(process.env);
    const anchor = await runPhase<AnalysisProcessReport>('analyse-process.ts', [path, 'anchor'], env);
    const analysis = await runPhase<AnalysisProcessReport>('analyse-process.ts', [path, 'analyse'], env);
    return {
      uplinks,
      observations: analysis.observations,
      generatedSeconds,
      seconds: analysis.seconds,
      anchorSeconds: anchor.seconds,
      steps: analysis.steps,
      verdict: analysis.verdict,
      findings: analysis.findings,
      peakRssMb: analysis.maxRssMb,
      pages: analysis.pages,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes a run's sends and observations: `uplinks` packets from 1,000 devices, mirrored to two backends. Every time
 * varies from packet to packet and backend to backend, as on a wire (a seeded hash, so each run is the same): the
 * send 0-50 µs late, the relay's copy 0.3-0.7 ms after it, the backend's answer 1.5-2.5 ms after that, the ACK at
 * the device 0.1-0.3 ms after the primary's. Constant times would flatter the analysis: DuckDB stores a column of
 * one value for nothing and sorts it in no time.
 */
export async function generateRun(store: Store, runId: number, uplinks: number): Promise<void> {
  await store.exec(
    `INSERT INTO sends SELECT $run_id, i, i, 0, '10.20.' || (i % 1000 // 250) || '.' || (i % 250) || ':40000',
       '127.20.' || (i % 1000 // 250) || '.' || (i % 250 + 1), 40000, 20500, 20500,
       1000000000 + i * 100000, 1000000000 + i * 100000 + hash(i, 'late') % 50000, hash(i) // 2048, 60, 'opaque', true, NULL, NULL, NULL
     FROM range($n) t(i)`,
    { run_id: runId, n: uplinks },
  );
  await store.exec(
    `INSERT INTO observations BY NAME
     WITH forwarded AS (
       SELECT s.send_no, s.payload_hash, s.local_ip, s.local_port, b,
              s.actual_ns + 300000 + hash(s.send_no, b, 'forward') % 400000 AS forwarded_ns
       FROM sends s, (VALUES ('primary'), ('mirror')) v(b)
       WHERE s.run_id = $run_id
     ),
     legs AS MATERIALIZED (
       SELECT *, forwarded_ns + 1500000 + hash(send_no, b, 'answer') % 1000000 AS answered_ns FROM forwarded
     )
     SELECT $run_id AS run_id, leg, ts_ns, src_ip, src_port, dst_ip, dst_port, 20500 AS route_port, payload_bytes, payload_hash,
            'opaque' AS kind, NULL AS match_key, observer, payload, reply_to_hash
     FROM (
       SELECT 'relay>' || b AS leg, forwarded_ns AS ts_ns, '127.0.0.1' AS src_ip, 50000 + send_no % 500 AS src_port,
              CASE b WHEN 'primary' THEN '127.0.0.2' ELSE '127.0.0.3' END AS dst_ip, 20500 AS dst_port, 60 AS payload_bytes,
              payload_hash, 'backend:' || b AS observer, NULL::BLOB AS payload, NULL::BIGINT AS reply_to_hash
       FROM legs
       WHERE NOT (b = 'mirror' AND send_no % 100 = 7)
       UNION ALL
       SELECT b || '>relay', answered_ns, CASE b WHEN 'primary' THEN '127.0.0.2' ELSE '127.0.0.3' END, 20500,
              '127.0.0.1', 50000 + send_no % 500, 19,
              hash(send_no * 7 + (b = 'mirror' AND send_no % 5000 = 11)::INT) // 2048, 'backend:' || b,
              ('ACK' || (send_no % 1000) || CASE WHEN b = 'mirror' AND send_no % 5000 = 11 THEN 'x' ELSE '' END)::BLOB,
              payload_hash
       FROM legs
       WHERE NOT (b = 'mirror' AND send_no % 100 = 7)
       UNION ALL
       SELECT 'relay>device', answered_ns + 100000 + hash(send_no, 'device') % 200000, '127.0.0.1', 20500, local_ip, local_port, 19,
              hash(send_no * 7) // 2048, 'replayer', ('ACK' || (send_no % 1000))::BLOB, NULL
       FROM legs WHERE b = 'primary'
     )`,
    { run_id: runId },
  );
}
