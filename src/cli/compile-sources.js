#!/usr/bin/env node
// Compiles the TypeScript sources ahead of time into build/js/<id>/ (`npm run build`; `npm install` and the test suite
// run it too), so that `parity` starts without tsx's loader (src/cli/compiled-sources.js says why and when the copy is
// used). esbuild strips the types as tsx does, with the project's compiler options; es-module-lexer finds each import's
// specifier, and the relative ones naming a .ts file are renamed .js. Every other file of src/ (SQL, the plain
// JavaScript workers, the C sources the addons are checked against) is linked, not copied, and the copy holds links
// to package.json, fixtures/ and each built addon, where the sources look for them relative to themselves.
// Plain JavaScript: it runs before anything else of the project can. Without esbuild or es-module-lexer (an install
// without them) it says so and builds nothing; `parity` then runs through tsx as before.
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtAddons, PROJECT_ROOT, sourcesId } from './compiled-sources.js';

/** Compiled copies kept besides the newest: a process started from one a moment ago may still load its modules. */
const KEEP_OLDER = 2;

/**
 * Builds build/js/<id>/ for the sources as they are, unless it is there already; returns its directory.
 * @param {string} [root]
 * @returns {Promise<{ dir: string, built: boolean }>}
 */
export async function compileSources(root = PROJECT_ROOT) {
  const id = sourcesId(root);
  const jsDir = join(root, 'build', 'js');
  const dir = join(jsDir, id);
  if (isDirectory(dir)) return { dir, built: false };
  const [{ transform }, { init, parse }] = await Promise.all([import('esbuild'), import('es-module-lexer')]);
  await init;
  const compilerOptions = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')).compilerOptions;
  // Built beside its final place and renamed into it: a `parity` starting meanwhile finds no copy and runs through tsx,
  // never a copy half written.
  const building = join(jsDir, `.${id}-${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  const src = join(root, 'src');
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => statSync(join(src, file)).isFile());
  await Promise.all(
    files.map(async (file) => {
      const from = join(src, file);
      const to = join(building, 'src', file);
      mkdirSync(dirname(to), { recursive: true });
      if (!file.endsWith('.ts')) {
        symlinkSync(relative(dirname(to), from), to);
        return;
      }
      const { code } = await transform(readFileSync(from, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: from,
        sourcemap: 'inline',
        tsconfigRaw: { compilerOptions },
      });
      writeFileSync(to.replace(/\.ts$/, '.js'), renameTsImports(code, parse));
    }),
  );
  for (const name of ['package.json', 'fixtures']) symlinkSync(relative(building, join(root, name)), join(building, name));
  mkdirSync(join(building, 'build'));
  for (const addon of builtAddons(root)) symlinkSync(join('..', relative(building, join(root, 'build', addon))), join(building, 'build', addon));
  try {
    renameSync(building, dir);
  } catch (error) {
    // Another build of the same sources got there first: theirs is the same.
    rmSync(building, { recursive: true, force: true });
    if (!isDirectory(dir)) throw error;
    return { dir, built: false };
  }
  pruneOlder(jsDir, id);
  return { dir, built: true };
}

/**
 * `code` with each relative import of a .ts file (static, dynamic with a literal, re-export) naming the .js beside it.
 * @param {string} code
 * @param {typeof import('es-module-lexer').parse} parse
 * @returns {string}
 */
export function renameTsImports(code, parse) {
  const [imports] = parse(code);
  let out = '';
  let from = 0;
  for (const { n: specifier, s: start, e: end } of imports) {
    if (specifier === undefined || !/^\.\.?\//.test(specifier) || !specifier.endsWith('.ts')) continue;
    // A static import's span is the specifier; a dynamic one's is the expression, quotes included.
    out += code.slice(from, start) + code.slice(start, end).replace(/\.ts(['"`]?)$/, '.js$1');
    from = end;
  }
  return out + code.slice(from);
}

/**
 * @param {string} jsDir
 * @param {string} newest
 */
function pruneOlder(jsDir, newest) {
  const older = readdirSync(jsDir)
    .filter((name) => name !== newest && !name.startsWith('.'))
    .map((name) => ({ name, mtimeMs: statSync(join(jsDir, name)).mtimeMs }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { name } of older.slice(KEEP_OLDER)) rmSync(join(jsDir, name), { recursive: true, force: true });
}

/** @param {string} path */
function isDirectory(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  try {
    const { dir, built } = await compileSources();
    process.stdout.write(`relay-parity: ${built ? 'compiled the sources into' : 'the sources are compiled already in'} ${relative(PROJECT_ROOT, dir)}\n`);
  } catch (error) {
    // Never fails an install: without the copy, `parity` runs through tsx.
    process.stdout.write(`relay-parity: the sources are not compiled ahead (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); parity runs them through tsx\n`);
  }
}
