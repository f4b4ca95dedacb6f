import { mkdirSync } from 'node:fs';
import { UsageError } from './errors.ts';

/**
 * Makes the directory a command writes into (`--out`, `--parquet`), or says in one line why it cannot: a path that is
 * a file, a directory the user may not write. Node's own error ended the command as an "unexpected error", exit 1.
 */
export function makeOutputDir(dir: string, flag: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it, or a directory above it, is a file' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'not allowed to write there' : (cause as Error).message;
    throw new UsageError(`${flag} ${dir}: cannot be made a directory (${why})`, { file: dir, field: flag.replace(/^--/, '') }, { cause });
  }
}
