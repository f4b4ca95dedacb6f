import { readFileSync } from 'node:fs';
import { StoreLockedError } from '../core/errors.ts';

const LOCK_HELD = /Conflicting lock is held in (.+?) \(PID (\d+)\)/;

/** Whether an error is DuckDB refusing a file another process holds (ours or DuckDB's own text). */
export function isStoreLocked(error: unknown): boolean {
  if (error instanceof StoreLockedError) return true;
  const text = error instanceof Error ? `${error.message} ${error.cause instanceof Error ? error.cause.message : ''}` : String(error);
  return text.includes('Could not set lock on file') || text.includes('Conflicting lock');
}

/**
 * The error for a store another process holds, naming that process by its command line (read from /proc where the
 * holder is on this host) and saying what to do.
 */
export function storeLockedError(path: string, duckdbMessage: string, cause: unknown): StoreLockedError {
  const match = LOCK_HELD.exec(duckdbMessage);
  const pid = match?.[2];
  const holder = pid === undefined ? 'another process' : `process ${pid} (${commandOf(pid) ?? match?.[1] ?? 'unknown'})`;
  return new StoreLockedError(
    `${path} is in use by ${holder}: DuckDB lets one process open a store at a time; wait for it to finish, stop it, or use another --db`,
    { file: path },
    { cause },
  );
}

function commandOf(pid: string): string | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // `node /path/to/parity.js backend ...` reads better as `parity backend ...`.
    const parity = argv.findIndex((arg) => arg.endsWith('/parity.js') || arg.endsWith('/parity'));
    const shown = parity >= 0 ? ['parity', ...argv.slice(parity + 1)] : argv;
    return shown.join(' ').slice(0, 200);
  } catch {
    return undefined;
  }
}
