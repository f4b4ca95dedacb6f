#!/usr/bin/env node
// Runs a TypeScript entry point (a benchmark, a helper process) through tsx's loader: `node src/cli/run-ts.js FILE ...`.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const entry = process.argv[2];
if (entry === undefined) {
  process.stderr.write('usage: node src/cli/run-ts.js FILE.ts [args...]\n');
  // eslint-disable-next-line no-restricted-properties -- this shim is a CLI entry of its own, before any TS loads
  process.exit(2);
}
process.argv.splice(1, 1);
register();
await import(pathToFileURL(resolve(entry)).href);
