import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keepFreedMemory } from '../../src/store/freed-memory.ts';
import { RECORDING_STORE, Store } from '../../src/store/store.ts';
import { addonsBuildable } from '../helpers/addon-buildable.ts';

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

describe("the store's hold on freed memory (freed-memory.c)", () => {
  it.skipIf(!addonsBuildable || !glibc)('npm install built it where there are a C compiler and Node headers, and glibc took its settings', () => {
    // Where it can be built the suite must see it applied: an install that silently fell back would leave every
    // analysis faulting its working memory in again, query after query, with nothing saying so.
    expect(keepFreedMemory()).toBe('');
  });
});

/** The kernel's flags of each mapping of 1 GiB or more in this process, by address range (VmFlags in smaps). */
function largeMappingFlags(): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  let range = '';
  let bytes = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (header !== null) {
      range = `${header[1]}-${header[2]}`;
      bytes = parseInt(header[2] as string, 16) - parseInt(header[1] as string, 16);
    } else if (line.startsWith('VmFlags:') && bytes >= 2 ** 30) {
      flags.set(range, line.slice('VmFlags:'.length).trim().split(/\s+/));
    }
  }
  return flags;
}

const thpAdvisable = existsSync('/proc/self/smaps') && existsSync('/sys/kernel/mm/transparent_hugepage/enabled');

describe("DuckDB's block pool in huge pages", () => {
  it.skipIf(!addonsBuildable || !thpAdvisable)('a store opened for analysis asks for them on its pool; a recording store and PARITY_HUGE_PAGES=0 do not', async () => {
    const opened: Store[] = [];
    // The mappings a store's opening added, with their flags ('hg': advised for transparent huge pages).
    const openedWith = async (open: () => Promise<Store>): Promise<string[][]> => {
      const before = largeMappingFlags();
      opened.push(await open());
      return [...largeMappingFlags()].filter(([range]) => !before.has(range)).map(([, flags]) => flags);
    };
    try {
      const analysing = await openedWith(() => Store.open(':memory:'));
      // DuckDB reserves its pool as one mapping of most of the machine's memory.
      expect(analysing).toHaveLength(1);
      expect(analysing[0]).toContain('hg');
      const recording = await openedWith(() => Store.open(':memory:', RECORDING_STORE));
      expect(recording).toHaveLength(1);
      expect(recording[0]).not.toContain('hg');
      process.env.PARITY_HUGE_PAGES = '0';
      const turnedOff = await openedWith(() => Store.open(':memory:'));
      expect(turnedOff).toHaveLength(1);
      expect(turnedOff[0]).not.toContain('hg');
    } finally {
      delete process.env.PARITY_HUGE_PAGES;
      for (const store of opened) store.close();
    }
  });
});
