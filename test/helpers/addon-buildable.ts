import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Whether `npm install` can build the project's C addons here (a C compiler, and Node's headers beside this node or in
 * /usr/include/node): where it can, a test requires each addon built and in use, so an install that silently fell
 * back cannot leave the default path untested.
 */
export const addonsBuildable =
  ['cc', 'gcc', 'clang'].some((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0) &&
  [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node'].some((dir) => existsSync(join(dir, 'node_api.h')));
