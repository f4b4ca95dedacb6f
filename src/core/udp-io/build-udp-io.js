#!/usr/bin/env node
// Builds the relay's datagram path in C (udp-io.c) into build/udp-io.node: run by `npm install` and by
// `npm run build:native`. Without a C compiler or Node's headers it says so and leaves the relay on Node's dgram; it
// never fails an install. Plain JavaScript: it runs before anything else of the project can.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('./udp-io.c', import.meta.url));
const target = fileURLToPath(new URL('../../../build/udp-io.node', import.meta.url));
// Node's headers (node_api.h, uv.h) where Node's installers put them: <prefix>/include/node beside <prefix>/bin/node.
const headers = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));
const compiler = ['cc', 'gcc', 'clang'].find((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0);

const skip = (/** @type {string} */ why) => process.stdout.write(`relay-parity: the relay's C datagram path is not built (${why}); the relay uses Node's dgram\n`);
if (compiler === undefined) skip('no C compiler: cc, gcc or clang');
else if (headers === undefined) skip("no Node headers (node_api.h) beside this node");
else {
  mkdirSync(dirname(target), { recursive: true });
  const built = spawnSync(compiler, ['-O2', '-shared', '-fPIC', '-Wall', '-o', target, `-I${headers}`, source], { encoding: 'utf8' });
  if (built.status === 0) process.stdout.write(`relay-parity: built ${target}\n`);
  else skip(`${compiler} failed: ${(built.stderr || built.error?.message || '').trim().split('\n')[0]}`);
}
