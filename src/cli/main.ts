import { Command, CommanderError } from 'commander';
import { describeError, EXIT_BAD_INPUT, EXIT_FAILURE, isParityError } from '../core/errors.ts';
import { registerAnalyseCommand } from './analyse-command.ts';
import { registerBackendCommand } from './backend-command.ts';
import { registerCapturesCommand } from './captures-command.ts';
import { registerFixturesCommand } from './fixtures-command.ts';
import { registerImportCommand } from './import-command.ts';
import { printError } from './output.ts';
import { registerRecordCommand } from './record-command.ts';
import { registerRelayCommand } from './relay-command.ts';
import { registerReplayCommand } from './replay-command.ts';
import { registerReportCommand } from './report-command.ts';
import { registerRunCommands } from './run-command.ts';
import { registerRunsCommand } from './runs-command.ts';
import { registerExportCommand } from './export-command.ts';

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
  for (const command of program.commands) command.exitOverride();
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; bad flags have already been printed by it.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
        return 0;
      }
      const command = program.commands.find((c) => c.name() === argv[2])?.name();
      const message = error.message.replace(/^error: /, '').replace(/\s+/g, ' ').trim();
      printError(`${message} (see parity ${command === undefined ? '' : `${command} `}--help)`);
      return EXIT_BAD_INPUT;
    }
    printError(describeError(error));
    if (!isParityError(error) && process.env.NODE_DEBUG?.includes('parity')) console.error(error);
    return isParityError(error) ? error.exitCode : EXIT_FAILURE;
  }
}

// `parity ... | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    // eslint-disable-next-line no-restricted-properties -- nothing more can be written: end now, with the status so far
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
process.exitCode = await main(process.argv);
