import { describe, expect, it } from 'vitest';
import { keepFreedMemory } from '../../src/store/freed-memory.ts';
import { addonsBuildable } from '../helpers/addon-buildable.ts';

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

describe("the store's hold on freed memory (freed-memory.c)", () => {
  it.skipIf(!addonsBuildable || !glibc)('npm install built it where there are a C compiler and Node headers, and glibc took its settings', () => {
    // Where it can be built the suite must see it applied: an install that silently fell back would leave every
    // analysis faulting its working memory in again, query after query, with nothing saying so.
    expect(keepFreedMemory()).toBe('');
  });
});
