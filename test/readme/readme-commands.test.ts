import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.ts';
import { readmeCommandLines, shellWords } from '../helpers/readme.ts';

const README = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');

/** The real program with every action replaced by nothing: parsing, validation and argument parsers run as they do. */
function parseOnlyProgram(): Command {
  const program = buildProgram();
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
    await expect(parseOnlyProgram().parseAsync(['node', ...words])).resolves.toBeDefined();
  });
});
