import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMANDS } from '../../src/cli/program.ts';
import { runParity } from '../helpers/run-parity.ts';

// `parity` loads only the module of the command it runs: a command missing from that table, or listed under a name
// its module does not register, would be unknown whenever it is named, and known only in `parity --help`.
describe('the command table parity loads commands by', () => {
  it('names every command and alias the full program has, each in the module that registers it', async () => {
    const full = await buildProgram();
    const registered = full.commands.flatMap((command) => [command.name(), ...command.aliases()]).sort();
    expect(COMMANDS.flatMap((command) => command.names).sort()).toEqual(registered);
    for (const entry of COMMANDS) {
      for (const name of entry.names) {
        const program = await buildProgram(['node', 'parity', name]);
        const found = program.commands.find((command) => command.name() === name || command.aliases().includes(name));
        expect(found, `parity ${name}`).toBeDefined();
      }
    }
  });

  it('registers only the command named, and all of them for help or a misspelt command', async () => {
    expect((await buildProgram(['node', 'parity', 'relay'])).commands.map((command) => command.name())).toEqual(['relay']);
    expect((await buildProgram(['node', 'parity', '--help'])).commands.length).toBe((await buildProgram()).commands.length);
    const typo = await runParity(['analyze-me', 'x']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'analyze-me'/);
    const help = await runParity(['--help']);
    expect(help.code).toBe(0);
    for (const entry of COMMANDS) expect(help.stdout).toContain(`${entry.names[0]} `);
  });

  it('shows the usage on stderr and exits 2 when no command is given, at the top or in a group of commands', async () => {
    const bare = await runParity([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: parity \[options\] \[command\]/);
    expect(bare.stderr).toContain('relay ');
    const group = await runParity(['fixtures']);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/^Usage: parity fixtures/);
    expect(group.stderr).toContain('generate');
  });

  it('--version prints the version package.json gives, outside npm run too', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    const shown = await runParity(['--version'], { env: { npm_package_version: '' } });
    expect(shown.code).toBe(0);
    expect(shown.stdout.trim()).toBe(pkg.version);
  });
});
