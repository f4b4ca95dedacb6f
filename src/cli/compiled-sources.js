// Where `parity` runs from: the TypeScript sources compiled ahead of time into build/js/<id>/ (src/cli/compile-sources.js,
// run by `npm install` and before the test suite), when that copy is of the sources as they are now; else nothing, and
// the sources run through tsx's loader. Through the loader every start paid about 0.3 s (the loader's own start and a
// round trip to its thread for each module): 0.50 s against 0.21 s for `parity relay --help`, and a scenario or a test
// starts a relay, a backend or a `parity` command hundreds of times.
// Plain JavaScript with no dependency: it runs before anything else of the project can.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository this file is in (src/cli/ is two levels below it). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What names a compiled copy: every file under src/ by path, size and modification time, and the C addons built in
 * build/ (the copy links each one by name). Any edit, checkout or rebuild changes it, so a stale copy is never run;
 * reading the times of the ~400 files takes 7-10 ms, not their bytes (25-36 ms).
 * @param {string} root
 * @returns {string}
 */
export function sourcesId(root) {
  const hash = createHash('sha1');
  const src = join(root, 'src');
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).sort();
  for (const file of files) {
    const stat = statSync(join(src, file));
    if (stat.isFile()) hash.update(`${file}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  for (const addon of builtAddons(root)) hash.update(`build/${addon}\n`);
  return hash.digest('hex').slice(0, 16);
}

/**
 * The addons built in build/ (*.node).
 * @param {string} root
 * @returns {string[]}
 */
export function builtAddons(root) {
  const dir = join(root, 'build');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.node')).sort() : [];
}

/**
 * The compiled copy's `main.js` for the sources as they are, or undefined when there is none.
 * @param {string} [root]
 * @returns {{ url: string, id: string } | undefined}
 */
export function compiledMain(root = PROJECT_ROOT) {
  const id = sourcesId(root);
  const main = join(root, 'build', 'js', id, 'src', 'cli', 'main.js');
  return existsSync(main) ? { url: pathToFileURL(main).href, id } : undefined;
}
