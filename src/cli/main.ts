import { CommanderError } from 'commander';
import { describeError, EXIT_BAD_INPUT, EXIT_FAILURE, isParityError } from '../core/errors.ts';
import { printError } from './output.ts';
import { buildProgram } from './program.ts';

async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; bad flags have already been printed by it.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      // Help asked for returns 0; help shown because no command was given (on stderr) is a usage error.
      if (error.code === 'commander.help') return error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
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
