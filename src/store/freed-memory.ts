import { fileURLToPath } from 'node:url';
import { loadAddon } from '../core/native-addon.ts';

interface Addon {
  keep(): number;
}

const ADDON_PATH = fileURLToPath(new URL('../../build/freed-memory.node', import.meta.url));
const ADDON_SOURCE = fileURLToPath(new URL('./freed-memory.c', import.meta.url));

let why: string | undefined;

/**
 * Has this process keep the memory it frees for its own next use (freed-memory.c): DuckDB's operators allocate their
 * working memory through glibc's malloc, which otherwise hands it back after each query, and the next query faults it
 * in again. Settled once per process; returns why it is not kept, or '' when it is. Where the addon is not built
 * (no C compiler at install) or the C library is not glibc, memory is handed back as by default: slower, not wrong.
 */
export function keepFreedMemory(): string {
  if (why !== undefined) return why;
  const result = loadAddon<Addon>(ADDON_PATH, ADDON_SOURCE);
  if ('missing' in result) why = result.missing;
  else why = result.addon.keep() === 1 ? '' : 'the C library is not glibc, or glibc refused the settings';
  return why;
}
