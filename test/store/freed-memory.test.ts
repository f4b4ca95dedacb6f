import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepFreedMemory } from '../../src/store/freed-memory.ts';

const buildable =
  ['cc', 'gcc', 'clang'].some((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0) &&
  [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node'].some((dir) => existsSync(join(dir, 'node_api.h')));
const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

describe("the store's hold on freed memory (freed-memory.c)", () => {
  it.skipIf(!buildable || !glibc)('npm install built it where there are a C compiler and Node headers, and glibc took its settings', () => {
    // Where it can be built the suite must see it applied: an install that silently fell back would leave every
    // analysis faulting its working memory in again, query after query, with nothing saying so.
    expect(keepFreedMemory()).toBe('');
  });
});
