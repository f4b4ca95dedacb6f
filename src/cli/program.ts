import { Command } from 'commander';
import { registerAnalyseCommand } from './analyse-command.ts';
import { registerBackendCommand } from './backend-command.ts';
import { registerCapturesCommand } from './captures-command.ts';
import { registerFixturesCommand } from './fixtures-command.ts';
import { registerImportCommand } from './import-command.ts';
import { registerRecordCommand } from './record-command.ts';
import { registerRelayCommand } from './relay-command.ts';
import { registerReplayCommand } from './replay-command.ts';
import { registerReportCommand } from './report-command.ts';
import { registerRunCommands } from './run-command.ts';
import { registerRunsCommand } from './runs-command.ts';
import { registerExportCommand } from './export-command.ts';
import { registerHttpBackendCommand } from './http-backend-command.ts';
import { registerWsCommands } from './ws-commands.ts';
import { registerControlPlaneCommand } from './control-plane-command.ts';
import { registerPgPoolerCommand } from './pg-pooler-command.ts';
import { registerShadowProxyCommand } from './shadow-proxy-command.ts';

/**
 * The `parity` command line. Each command lives in its own file, parses its flags, calls its stage and prints; this
 * file only wires them together and is the one place that turns errors into exit codes.
 */
export function buildProgram(): Command {
  const program = new Command('parity')
    .description('Capture-and-replay parity testing for mirroring UDP relays: record, replay, analyse, report.')
    .version(process.env.npm_package_version ?? '0.1.0')
    // Commander's own error text (two lines, its own style) is not printed: main() words it as every other error.
    .configureOutput({ writeErr: () => undefined })
    .exitOverride();
  registerImportCommand(program);
  registerCapturesCommand(program);
  registerBackendCommand(program);
  registerFixturesCommand(program);
  registerRelayCommand(program);
  registerRecordCommand(program);
  registerReplayCommand(program);
  registerAnalyseCommand(program);
  registerReportCommand(program);
  registerRunCommands(program);
  registerRunsCommand(program);
  registerExportCommand(program);
  registerShadowProxyCommand(program);
  registerHttpBackendCommand(program);
  registerWsCommands(program);
  registerControlPlaneCommand(program);
  registerPgPoolerCommand(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}
