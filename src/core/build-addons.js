#!/usr/bin/env node
// Builds the project's C addons into build/: the relay's datagram path (udp-io.c), the store's column-at-a-time
// string path into DuckDB (duckdb-strings.c), its feed of bulk loads (duckdb-feed.c) and its hold on freed memory
// (freed-memory.c). Run by `npm install` and by `npm run build:native`. Without a C compiler or Node's headers it says
// so and each falls back (the relay to Node's dgram, the store to one call per value, a feed to the bindings' table
// function, freed memory to glibc's defaults); it never fails an install.
// Plain JavaScript: it runs before anything else of the project can.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const addons = [
  { source: './udp-io/udp-io.c', target: 'udp-io.node', what: "the relay's C datagram path", fallback: "the relay uses Node's dgram" },
  { source: '../store/duckdb-strings.c', target: 'duckdb-strings.node', what: "the store's C string path", fallback: 'strings and blobs cross into DuckDB one call each', libraries: ['-ldl'] },
  { source: '../store/duckdb-feed.c', target: 'duckdb-feed.node', what: "the store's C feed", fallback: "DuckDB's threads take an import's chunks through the JavaScript thread", libraries: ['-ldl', '-lpthread'] },
  { source: '../store/freed-memory.c', target: 'freed-memory.node', what: 'the store\'s hold on freed memory', fallback: 'glibc hands freed memory back to the system as it does by default' },
];
// Node's headers (node_api.h, uv.h) where Node's installers put them: <prefix>/include/node beside <prefix>/bin/node.
const headers = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));
const compiler = ['cc', 'gcc', 'clang'].find((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0);

for (const addon of addons) {
  const source = fileURLToPath(new URL(addon.source, import.meta.url));
  const target = fileURLToPath(new URL(`../../build/${addon.target}`, import.meta.url));
  const skip = (/** @type {string} */ why) => process.stdout.write(`relay-parity: ${addon.what} is not built (${why}); ${addon.fallback}\n`);
  if (compiler === undefined) skip('no C compiler: cc, gcc or clang');
  else if (headers === undefined) skip('no Node headers (node_api.h) beside this node');
  else {
    mkdirSync(dirname(target), { recursive: true });
    const built = spawnSync(compiler, ['-O2', '-shared', '-fPIC', '-Wall', '-o', target, `-I${headers}`, source, ...(addon.libraries ?? [])], { encoding: 'utf8' });
    if (built.status === 0) process.stdout.write(`relay-parity: built ${target}\n`);
    else skip(`${compiler} failed: ${(built.stderr || built.error?.message || '').trim().split('\n')[0]}`);
  }
}
