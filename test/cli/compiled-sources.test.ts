import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init, parse } from 'es-module-lexer';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileSources, renameTsImports } from '../../src/cli/compile-sources.js';
import { compiledMain } from '../../src/cli/compiled-sources.js';
import { withTempDir } from '../helpers/temp-dir.ts';

const REPO = join(import.meta.dirname, '../..');

/** A copy of the project to compile and edit: its sources copied, its installed modules and built addons linked. */
function copyProject(root: string): void {
  cpSync(join(REPO, 'src'), join(root, 'src'), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json']) cpSync(join(REPO, file), join(root, file));
  for (const dir of ['node_modules', 'fixtures']) symlinkSync(join(REPO, dir), join(root, dir));
  mkdirSync(join(root, 'build'));
  for (const addon of readdirSync(join(REPO, 'build')).filter((name) => name.endsWith('.node'))) symlinkSync(join(REPO, 'build', addon), join(root, 'build', addon));
}

/** `parity ARGS` started as a user starts it, with what it says of where it runs from (NODE_DEBUG=parity). */
function parity(root: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const run = spawnSync(process.execPath, [join(root, 'src/cli/parity.js'), ...args], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'parity' }, timeout: 30_000 });
  return { stdout: run.stdout, stderr: run.stderr, status: run.status };
}

describe('renameTsImports', () => {
  beforeAll(async () => {
    await init;
  });

  it('renames the relative .ts specifiers of static imports, re-exports and dynamic imports, and nothing else', () => {
    const code = [
      'import { a } from "./a.ts";',
      'import b from "../b/b.ts";',
      'export { c } from "./c.ts";',
      'export * from "./d.ts";',
      'const e = await import("./e.ts");',
      "const f = await import('../f.ts');",
      'import { g } from "g.ts";',
      'import h from "node:path";',
      'import i from "./i.js";',
      'const text = "./not-an-import.ts";',
    ].join('\n');
    expect(renameTsImports(code, parse).split('\n')).toEqual([
      'import { a } from "./a.js";',
      'import b from "../b/b.js";',
      'export { c } from "./c.js";',
      'export * from "./d.js";',
      'const e = await import("./e.js");',
      "const f = await import('../f.js');",
      'import { g } from "g.ts";',
      'import h from "node:path";',
      'import i from "./i.js";',
      'const text = "./not-an-import.ts";',
    ]);
  });
});

describe('the sources compiled ahead', () => {
  it('are run while they are the sources as they are, and never once one has changed', async () => {
    await withTempDir(async (root) => {
      copyProject(root);
      expect(compiledMain(root)).toBeUndefined();
      const first = await compileSources(root);
      expect(first.built).toBe(true);
      expect(await compileSources(root)).toEqual({ dir: first.dir, built: false });
      expect(compiledMain(root)?.url).toContain(first.dir);

      // The same command as through tsx, said to run from the copy.
      const compiled = parity(root, ['relay', '--help']);
      expect(compiled.stderr).toContain(`running the sources compiled in build/js/${first.dir.split('/').at(-1)}`);
      const throughTsx = spawnSync(process.execPath, [join(REPO, 'src/cli/run-ts.js'), join(root, 'src/cli/main.ts'), 'relay', '--help'], { encoding: 'utf8', timeout: 30_000 });
      expect(compiled.stdout).toBe(throughTsx.stdout);
      expect(compiled.stdout).toContain('--routes');

      // An edited source is run as edited, through tsx, until compiled again.
      const program = join(root, 'src/cli/program.ts');
      writeFileSync(program, readFileSync(program, 'utf8').replace('Capture-and-replay parity testing', 'EDITED parity testing'));
      expect(compiledMain(root)).toBeUndefined();
      const edited = parity(root, ['--help']);
      expect(edited.stderr).toContain('running them through tsx');
      expect(edited.stdout).toContain('EDITED parity testing');

      const second = await compileSources(root);
      expect(second.dir).not.toBe(first.dir);
      expect(existsSync(first.dir)).toBe(true);
      const recompiled = parity(root, ['--help']);
      expect(recompiled.stderr).toContain('running the sources compiled in');
      expect(recompiled.stdout).toContain('EDITED parity testing');
    });
  });

  it('leave no import of a .ts file, and every compiled module loads without tsx', async () => {
    await withTempDir(async (root) => {
      copyProject(root);
      const { dir } = await compileSources(root);
      await init;
      const compiled = readdirSync(join(dir, 'src'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && entry.name.endsWith('.js'));
      expect(compiled.length).toBeGreaterThan(200);
      const leftOver = compiled.flatMap((entry) => {
        const [imports] = parse(readFileSync(join(entry.parentPath, entry.name), 'utf8'));
        return imports.filter((i) => i.n !== undefined && i.n.startsWith('.') && i.n.endsWith('.ts')).map((i) => `${entry.name}: ${i.n}`);
      });
      expect(leftOver).toEqual([]);
      // main.js runs the command line when loaded; every other module only defines what it exports.
      const loadAll = `
        const files = ${JSON.stringify(compiled.map((entry) => join(entry.parentPath, entry.name)).filter((file) => !file.endsWith('/cli/main.js')))};
        const failed = [];
        for (const file of files) await import(file).catch((error) => failed.push(file + ': ' + error.message.split('\\n')[0]));
        process.stdout.write(JSON.stringify(failed));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', loadAll], { encoding: 'utf8', timeout: 50_000 });
      expect(JSON.parse(out)).toEqual([]);
    });
  });
});
