import { compileSources } from '../../src/cli/compile-sources.js';

/**
 * Before the suite: the sources compiled as they are now, so that the relays, backends and `parity` commands the tests
 * start run the code under test without tsx's loader (src/cli/compiled-sources.js). Without the copy they would run
 * through tsx, as they did before it: slower, the same code.
 */
export default async function compileBeforeTests(): Promise<void> {
  try {
    await compileSources();
  } catch (error) {
    process.stdout.write(`the sources are not compiled ahead (${error instanceof Error ? error.message : String(error)}): subprocesses run through tsx\n`);
  }
}
