import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const PARITY_BIN = join(import.meta.dirname, '../../src/cli/parity.js');

export interface ParityRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `parity` command as a subprocess, bounded by `timeoutMs`. */
export function runParity(args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ParityRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PARITY_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      // What it printed is the only clue to why it hung: the error carries its tail.
      reject(new Error(`parity ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms; stderr ends: ${stderr.slice(-2000)}; stdout ends: ${stdout.slice(-1000)}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ParityProcess {
  child: ReturnType<typeof spawn>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code; registered at spawn, so an early exit is never missed. */
  exited: Promise<number | null>;
  /** Waits until `predicate` holds on the output so far, the process exits, or `timeoutMs` passes. */
  waitForOutput(predicate: (stdout: string, stderr: string) => boolean, timeoutMs?: number): Promise<boolean>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ParityProcess>();

/** Starts `parity` as a long-running subprocess; `killAllParity()` (in afterEach) ends any a failed test left. */
export function spawnParity(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ParityProcess {
  const child = spawn(process.execPath, [PARITY_BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    done = true;
    running.delete(handle);
    resolve(code);
  }));
  const handle: ParityProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(out, err) && !done && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return predicate(out, err);
    },
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
  running.add(handle);
  return handle;
}

export async function killAllParity(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}
