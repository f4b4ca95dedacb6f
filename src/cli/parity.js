#!/usr/bin/env node
// The `parity` command. It runs the sources compiled ahead of time when they are current (src/cli/compiled-sources.js),
// else the TypeScript sources through tsx's loader: either way there is no build step between `npm ci` and a working
// `npx parity`, an edited source runs as edited, and subprocesses (relay, backends) start from the same code.
import { debuglog } from 'node:util';
import { compiledMain } from './compiled-sources.js';
import { runWithAnalysisAllocator, wantsAnalysisAllocator, watchParent } from './analysis-allocator.js';

const debug = debuglog('parity');

async function runCommand() {
  const compiled = compiledMain();
  if (compiled !== undefined) {
    debug('running the sources compiled in build/js/%s', compiled.id);
    // Stack traces name the TypeScript sources' lines, as under tsx.
    process.setSourceMapsEnabled(true);
    await import(compiled.url);
  } else {
    debug('no compiled copy of the sources as they are (npm run build compiles them): running them through tsx');
    const { register } = await import('tsx/esm/api');
    register();
    await import('./main.ts');
  }
}

if (wantsAnalysisAllocator(process.argv, process.env)) {
  debug('starting again with glibc set for an analysis (analysis-allocator.js)');
  process.exitCode = await runWithAnalysisAllocator();
} else {
  watchParent();
  await runCommand();
}
