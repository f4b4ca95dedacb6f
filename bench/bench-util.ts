import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const RUN_TS = join(import.meta.dirname, '../src/cli/run-ts.js');

export interface PhaseResult {
  items: number;
  seconds: number;
  maxRssMb: number;
  [key: string]: number | string;
}

/**
 * Runs one benchmark phase in its own process, so its peak RSS is its own; the phase prints one JSON line
 * (reportPhase), of the shape `T` its script reports.
 */
export function runPhase<T extends object = PhaseResult>(script: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<T & { maxRssMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_TS, join(import.meta.dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
        return;
      }
      const line = out.trim().split('\n').pop() ?? '{}';
      resolve(JSON.parse(line) as T & { maxRssMb: number });
    });
  });
}

/**
 * Prints a phase's result as its one JSON line, with the process's peak RSS (called inside the phase process): a
 * PhaseResult unless the phase names its own shape (`reportPhase<Shape>(...)`).
 */
export function reportPhase<T extends object = Omit<PhaseResult, 'maxRssMb'>>(result: NoInfer<T>): void {
  process.stdout.write(`${JSON.stringify({ ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
}

export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Times a shell command; returns seconds, or undefined if it failed. */
export function timeCommand(command: string, args: readonly string[]): number | undefined {
  const started = process.hrtime.bigint();
  const run = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
  if (run.status !== 0) return undefined;
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export function printRows(title: string, head: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells: readonly (string | number)[]): string =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i] ?? 0) : String(c).padStart(widths[i] ?? 0))).join('  ');
  process.stdout.write(`\n${title}\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

export const fmtRate = (perSecond: number): string =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)}M` : `${(perSecond / 1e3).toFixed(0)}k`;

/** Starts a UDP sink process (bench/udp-sink.ts) and returns a function that stops it and returns its count. */
export async function startSink(ip: string, port: number): Promise<() => Promise<number>> {
  const child = spawn(process.execPath, [RUN_TS, join(import.meta.dirname, 'udp-sink.ts'), ip, String(port)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  let exited = false;
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.on('exit', () => (exited = true));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready')) {
    if (exited || Date.now() > deadline) throw new Error(`the UDP sink on ${ip}:${port} did not start (is the port taken?)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return async () => {
    process.removeListener('exit', killOnExit);
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    child.kill('SIGTERM');
    await closed;
    const last = out.trim().split('\n').pop() ?? '{}';
    return (JSON.parse(last) as { received?: number }).received ?? 0;
  };
}
