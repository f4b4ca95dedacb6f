import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { debug } from '../core/debug.ts';

const DEBOUNCE_MS = 100;

/**
 * Calls `onChange` when the routes file changes. The directory is watched, not the file: editors and deploy tools
 * replace a file by renaming a new one over it, which ends a watch on the file itself. Bursts of events (write, then
 * rename) are folded into one call.
 */
export function watchRoutesFile(path: string, onChange: () => void): { close: () => void } {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, DEBOUNCE_MS);
    });
    watcher.on('error', (error) => debug('routes watcher: %s', error.message));
  } catch (error) {
    debug('cannot watch %s: %s (SIGHUP still reloads)', path, (error as Error).message);
  }
  return {
    close: () => {
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
    },
  };
}
