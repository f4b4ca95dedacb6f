import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.ts';
import { readmeCommandLines, shellWords } from '../helpers/readme.ts';

const README = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');

/** The real program with every action replaced by nothing: parsing, validation and argument parsers run as they do. */
async function parseOnlyProgram(): Promise<Command> {
  const program = await buildProgram();
  const quiet = (command: Command): void => {
    command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined }).exitOverride().action(() => undefined);
    command.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  return program.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
}

describe('README command examples', () => {
  const lines = readmeCommandLines(README);

  it('finds the examples (the README shows every command)', () => {
    const commands = new Set(lines.map((line) => shellWords(line)[1]));
    for (const command of ['import', 'captures', 'fixtures', 'backend', 'relay', 'record', 'replay', 'analyse', 'report', 'run', 'demo', 'runs', 'export']) {
      expect(commands, `no README example of parity ${command}`).toContain(command);
    }
  });

  it.each(lines.map((line) => [line]))('parses as the CLI reads it: %s', async (line) => {
    const words = shellWords(line);
    expect(words[0]).toBe('parity');
    await expect((await parseOnlyProgram()).parseAsync(['node', ...words])).resolves.toBeDefined();
  });

  it('every relative link resolves in a clone of the repository alone, and every #anchor names a heading', () => {
    const anchors = new Set(
      [...README.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] ?? '').toLowerCase().replace(/[^\w\s-]/g, '').trim().replace(/\s/g, '-')),
    );
    const links = [...README.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((link) => !/^[a-z]+:/.test(link));
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) {
      if (link.startsWith('#')) expect(anchors, link).toContain(link.slice(1));
      else {
        expect(link.startsWith('..'), `${link} leaves the repository`).toBe(false);
        expect(existsSync(join(import.meta.dirname, '../..', link.split('#')[0] ?? '')), link).toBe(true);
      }
    }
  });
});
