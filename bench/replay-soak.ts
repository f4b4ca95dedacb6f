import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/capture/import-capture.ts';
import { generic } from '../src/protocols/generic.ts';
import { replayCapture } from '../src/run/replay-run.ts';
import { num, Store } from '../src/store/store.ts';
import { printRows, startSink } from './bench-util.ts';
import { generateBenchCapture } from './generate-capture.ts';
import { MachineStalls } from './machine-stalls.ts';

const SINK_IP = '127.0.9.5';
const SINK_PORT = 20500;
const RATE_PPS = 10_000;
const CAPTURE_PACKETS = 200_000;
const WINDOWS = 10;

/**
 * `npm run bench -- replay-soak`: a long replay at 10k pps (REPLAY_SOAK_SECONDS, default 60; 600 for the 6M-packet
 * run issue 15 asks for), looping the capture: the lateness of each tenth of the run, and the process's memory as it
 * goes (the process's, JavaScript's, DuckDB's). Cost must grow with the work, not with the run: the last tenth as late
 * as the first, memory flat.
 */
export async function benchReplaySoak(): Promise<void> {
  const seconds = Number(process.env.REPLAY_SOAK_SECONDS ?? 60);
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-soak-'));
  const file = join(dir, 'soak.pcap');
  generateBenchCapture(file, CAPTURE_PACKETS, 'pcap');
  const store = await Store.open(join(dir, 'soak.duckdb'));
  // REPLAY_SOAK_CHECKPOINT (a DuckDB size such as 512MB) defers DuckDB's automatic checkpoints: how the lateness of
  // the later tenths depends on them.
  const checkpoint = process.env.REPLAY_SOAK_CHECKPOINT;
  if (checkpoint !== undefined && /^\d+(MB|GB)$/i.test(checkpoint)) await store.exec(`SET checkpoint_threshold = '${checkpoint}'`);
  const stopSink = await startSink(SINK_IP, SINK_PORT);
  // Where the memory is, every second: the process, JavaScript's own (V8's heap and array buffers), DuckDB's (its
  // buffer manager's count, read on a connection of its own). What the first two leave out is native memory elsewhere.
  const rss: number[] = [];
  const js: number[] = [];
  const duck: number[] = [];
  const memoryConnection = await store.connect();
  let reading = false;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    rss.push(m.rss / 1e6);
    js.push((m.heapUsed + m.arrayBuffers) / 1e6);
    if (reading) return;
    reading = true;
    memoryConnection
      .runAndReadAll('SELECT sum(memory_usage_bytes)::DOUBLE AS bytes FROM duckdb_memory()')
      .then((reader) => duck.push(Number(reader.getRows()[0]?.[0] ?? 0) / 1e6))
      .catch(() => undefined)
      .finally(() => (reading = false));
  }, 1000);
  const stalls = new MachineStalls();
  try {
    await importCaptures(store, { files: [file], name: 'soak', ports: [SINK_PORT] });
    // The capture's span at this rate: the loops that cover the asked duration.
    const loops = Math.ceil((seconds * RATE_PPS) / CAPTURE_PACKETS);
    const result = await replayCapture({
      store,
      capture: 'soak',
      relayHost: SINK_IP,
      portMap: new Map(),
      plan: { pace: { kind: 'rate', ratePps: RATE_PPS }, loops, durationMs: seconds * 1000, sample: 1, seed: 1 },
      protocol: generic,
      devices: '127.32.0.0/16',
      ackTimeoutMs: 0,
      runName: 'soak',
    });
    clearInterval(sampler);
    const received = await stopSink();
    const rows = await store.query(
      `SELECT (send_no * ${WINDOWS}) // (SELECT count(*) FROM sends WHERE run_id = $run_id) AS tenth,
              count(*) AS sent,
              quantile_cont(actual_ns - scheduled_ns, 0.99) / 1000 AS p99_us,
              max(actual_ns - scheduled_ns) / 1000 AS max_us
       FROM sends WHERE run_id = $run_id GROUP BY ALL ORDER BY tenth`,
      { run_id: result.runId },
    );
    const memory = (samples: readonly number[], from: number, to: number): string => {
      const part = samples.slice(Math.floor(from * samples.length), Math.max(Math.floor(from * samples.length) + 1, Math.floor(to * samples.length)));
      return part.length === 0 ? '-' : Math.max(...part).toFixed(0);
    };
    printRows(
      `a ${seconds} s replay at 10k pps (${result.stats.sent.toLocaleString('en-US')} packets, ${received.toLocaleString('en-US')} received), by tenths of the run`,
      ['tenth', 'sent', 'lateness p99 µs', 'max µs', 'peak RSS MB in it', 'JavaScript MB', 'DuckDB MB'],
      rows.map((row) => {
        const tenth = num(row.tenth);
        const [from, to] = [tenth / WINDOWS, (tenth + 1) / WINDOWS];
        return [tenth + 1, num(row.sent), num(row.p99_us).toFixed(1), num(row.max_us).toFixed(1), memory(rss, from, to), memory(js, from, to), memory(duck, from, to)];
      }),
    );
    process.stdout.write(`whole run: p99 ${result.stats.lateness.p99Us} µs, max ${result.stats.lateness.maxUs} µs; RSS ${rss[0]?.toFixed(0) ?? '-'} MB after 1 s, ${rss.at(-1)?.toFixed(0) ?? '-'} MB at the end\n`);
    // Where the tail is: the seconds of the run with the most sends later than 1 ms, so a stall is placed in time (at
    // the start, at a loop of the capture, at a checkpoint) rather than averaged into a tenth.
    // And what the machine took from the process in each of them (bench/machine-stalls.ts: steal, pressure, run-queue
    // waits, CPU time) and the collector's stops of the sending thread: a second none of them explains is the host's,
    // as far as a guest can tell (docs/performance.md, "Long replay").
    stalls.stop();
    const worst = await store.query(
      `WITH origin AS (SELECT min(scheduled_ns) AS ns FROM sends WHERE run_id = $run_id)
       SELECT (actual_ns - origin.ns) // 1000000000 AS second, any_value(origin.ns) AS origin_ns,
              count(*) FILTER (WHERE actual_ns - scheduled_ns > 1000000) AS late, max(actual_ns - scheduled_ns) / 1000 AS max_us
       FROM sends, origin WHERE run_id = $run_id GROUP BY ALL HAVING late > 0 ORDER BY late DESC, second LIMIT 5`,
      { run_id: result.runId },
    );
    const placed = worst.map((row) => {
      const sample = stalls.at(BigInt(num(row.origin_ns)) + BigInt(num(row.second)) * 1_000_000_000n + 500_000_000n);
      const sender = sample?.senderRunWaitMs === null || sample === undefined ? '' : `, the sending thread's ${sample.senderRunWaitMs.toFixed(1)} ms (it ran ${(sample.senderOnCpuMs ?? 0).toFixed(0)} ms)`;
      const pressure = sample === undefined ? '' : `pressure: CPU ${sample.cpuPressureMs.toFixed(0)} ms, memory ${sample.memoryPressureMs.toFixed(0)} ms, I/O ${sample.ioPressureMs.toFixed(0)} ms`;
      const cpu = sample === undefined ? '' : `in ${sample.intervalMs.toFixed(0)} ms the machine busy ${sample.machineBusyMs.toFixed(0)} ms of CPU, this process ${sample.processBusyMs.toFixed(0)} ms (busiest thread besides the sender: ${sample.busiestThread}, ${sample.busiestRunMs.toFixed(0)} ms)`;
      const machine = sample === undefined ? '' : `; ${cpu}; steal ${sample.stealMs.toFixed(0)} ms, ${pressure}, run-queue wait: longest ${sample.worstRunWaitMs.toFixed(1)} ms (${sample.worstThread})${sender}`;
      const collected = result.stats.senderCollections?.bySecond.find((c) => c.second === num(row.second));
      const collector = `; the collector stopped the sending thread ${(collected?.ms ?? 0).toFixed(1)} ms (longest ${(collected?.maxMs ?? 0).toFixed(1)} ms)`;
      return `${num(row.second)} s (${num(row.late).toLocaleString('en-US')}, max ${(num(row.max_us) / 1000).toFixed(1)} ms${machine}${collector})`;
    });
    process.stdout.write(`seconds with the most sends over 1 ms late: ${placed.length === 0 ? 'none' : placed.join(', ')}; the capture loops every ${CAPTURE_PACKETS / RATE_PPS} s\n`);
    const gc = result.stats.senderCollections;
    if (gc !== null) process.stdout.write(`the collector stopped the sending thread ${gc.count} times for 1 ms or more, ${gc.totalMs.toFixed(0)} ms in all, longest ${gc.maxMs.toFixed(1)} ms\n`);
    const offCpu = result.stats.senderWaitedForCpu;
    if (offCpu !== null && offCpu !== undefined) process.stdout.write(`other threads took the sending thread's CPU ${offCpu.times.toLocaleString('en-US')} times, ${offCpu.ms.toFixed(0)} ms in all\n`);
    const late = result.stats.senderLateBatches;
    if (late !== null && late !== undefined) process.stdout.write(`the main thread handed it ${late.times} batches after they were due; it waited ${late.ms.toFixed(0)} ms in all for them\n`);
    const stolen = stalls.samples.reduce((sum, sample) => sum + sample.stealMs, 0);
    process.stdout.write(`the hypervisor's steal over the run: ${stolen.toFixed(0)} ms in ${stalls.samples.filter((sample) => sample.stealMs > 0).length} of ${stalls.samples.length} seconds\n`);
  } finally {
    clearInterval(sampler);
    stalls.stop();
    memoryConnection.closeSync();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
