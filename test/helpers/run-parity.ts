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
      reject(new Error(`parity ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
