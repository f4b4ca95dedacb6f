import { readFileSync } from 'node:fs';
import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every command: the names it answers to and the module that registers it. A module is loaded only for the command
 * that runs: loading all of them (DuckDB, the scenario runners, the HTTP, WebSocket and Postgres stacks) took a
 * second and a half of every start, and a relay or a backend started by a scenario or a test paid it for nothing. The
 * order is that of `parity --help`.
 */
export const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ['import'], load: async () => (await import('./import-command.ts')).registerImportCommand },
  { names: ['captures'], load: async () => (await import('./captures-command.ts')).registerCapturesCommand },
  { names: ['backend'], load: async () => (await import('./backend-command.ts')).registerBackendCommand },
  { names: ['fixtures'], load: async () => (await import('./fixtures-command.ts')).registerFixturesCommand },
  { names: ['relay'], load: async () => (await import('./relay-command.ts')).registerRelayCommand },
  { names: ['record'], load: async () => (await import('./record-command.ts')).registerRecordCommand },
  { names: ['replay'], load: async () => (await import('./replay-command.ts')).registerReplayCommand },
  { names: ['analyse', 'analyze'], load: async () => (await import('./analyse-command.ts')).registerAnalyseCommand },
  { names: ['report'], load: async () => (await import('./report-command.ts')).registerReportCommand },
  { names: ['run', 'demo'], load: async () => (await import('./run-command.ts')).registerRunCommands },
  { names: ['runs'], load: async () => (await import('./runs-command.ts')).registerRunsCommand },
  { names: ['export'], load: async () => (await import('./export-command.ts')).registerExportCommand },
  { names: ['shadow-proxy'], load: async () => (await import('./shadow-proxy-command.ts')).registerShadowProxyCommand },
  { names: ['http-backend'], load: async () => (await import('./http-backend-command.ts')).registerHttpBackendCommand },
  { names: ['relay-agent', 'gateway'], load: async () => (await import('./ws-commands.ts')).registerWsCommands },
  { names: ['control-plane'], load: async () => (await import('./control-plane-command.ts')).registerControlPlaneCommand },
  { names: ['pg-pooler'], load: async () => (await import('./pg-pooler-command.ts')).registerPgPoolerCommand },
];

/**
 * The `parity` command line. Each command lives in its own file, parses its flags, calls its stage and prints; this
 * file only wires them together and is the one place that turns errors into exit codes. Given the command line, only
 * the command it names is registered; without one (`parity --help`, a misspelt command) every command is, so help
 * lists them all and commander can suggest the nearest name.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('parity')
    .description('Capture-and-replay parity testing for mirroring UDP relays: record, replay, analyse, report.')
    .version(packageVersion())
    // Commander's own error text (two lines, its own style) is not printed: main() words it as every other error.
    // Its help still is, on stderr, where a command is missing (`parity`, `parity fixtures`).
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  const named = argv[2];
  const chosen = COMMANDS.filter((command) => named !== undefined && command.names.includes(named));
  const registers = await Promise.all((chosen.length > 0 ? chosen : COMMANDS).map((command) => command.load()));
  for (const register of registers) register(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** The version in package.json: `npm_package_version` is set only under `npm run`, not for `npx parity`. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
