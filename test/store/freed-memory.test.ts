import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstTouchCost, hugePagesPay, jemallocArenasKept, keepFreedMemory } from '../../src/store/freed-memory.ts';
import { RECORDING_STORE, Store, type LargeWorkSetup } from '../../src/store/store.ts';
import { addonsBuildable } from '../helpers/addon-buildable.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

describe("the store's hold on freed memory (freed-memory.c)", () => {
  it.skipIf(!addonsBuildable || !glibc)('npm install built it where there are a C compiler and Node headers, and glibc took its settings', () => {
    // Where it can be built the suite must see it applied: an install that silently fell back would leave every
    // analysis faulting its working memory in again, query after query, with nothing saying so.
    expect(keepFreedMemory()).toBe('');
  });

  // DuckDB builds its own jemalloc in on Linux x64 and has it hand freed pages back over a second.
  const duckdbJemalloc = process.platform === 'linux' && process.arch === 'x64';
  it.skipIf(!addonsBuildable || !duckdbJemalloc)("DuckDB's jemalloc keeps what it frees for five seconds once a store has opened, as jemalloc itself reports", async () => {
    expect(jemallocArenasKept()).toBeGreaterThanOrEqual(1);
    await withTempDir(async (dir) => {
      // jemalloc prints its settings as the process exits when asked to by its environment variable.
      const script = join(dir, 'open-store.mts');
      writeFileSync(script, `import { Store } from ${JSON.stringify(join(import.meta.dirname, '../../src/store/store.ts'))};\n(await Store.open(':memory:')).close();\n`);
      const run = spawnSync(process.execPath, [join(import.meta.dirname, '../../src/cli/run-ts.js'), script], { env: { ...process.env, DUCKDB_JE_MALLOC_CONF: 'stats_print:true' }, encoding: 'utf8' });
      expect(run.status).toBe(0);
      // opt.* is how DuckDB configured it; arenas.* what the arenas use now.
      expect(run.stderr + run.stdout).toMatch(/opt\.dirty_decay_ms: 1000 \(arenas\.dirty_decay_ms: 5000\)/);
      expect(run.stderr + run.stdout).toMatch(/opt\.muzzy_decay_ms: 1000 \(arenas\.muzzy_decay_ms: 5000\)/);
    });
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
  it.skipIf(!addonsBuildable || !thpAdvisable)('a store asks for them on its pool for large work where they cost less now, from its opening with PARITY_HUGE_PAGES=1, never with 0 nor when it records', async () => {
    const opened: Store[] = [];
    const asked = process.env.PARITY_HUGE_PAGES;
    // What a store does with DuckDB's pool: the mapping its opening added, with its flags ('hg': advised for
    // transparent huge pages) as opened and once readied for large work, and the blocks DuckDB keeps before and after.
    const poolOf = async (open: () => Promise<Store>): Promise<{ opened: string[]; working: string[]; keptWorking: string; keptBefore: string; setup: LargeWorkSetup }> => {
      const before = largeMappingFlags();
      const store = await open();
      opened.push(store);
      const added = [...largeMappingFlags()].filter(([range]) => !before.has(range));
      // DuckDB reserves its pool as one mapping of most of the machine's memory.
      expect(added).toHaveLength(1);
      const [range = '', flags = []] = added[0] ?? [];
      const kept = async (): Promise<string> => String((await store.query(`SELECT current_setting('block_allocator_memory') AS kept`))[0]?.kept);
      const keptBefore = await kept();
      const setup = await store.readyForLargeWork();
      expect(store.largeWork).toEqual(setup);
      return { opened: flags, working: largeMappingFlags().get(range) ?? [], keptWorking: await kept(), keptBefore, setup };
    };
    const limit = async (store: Store | undefined): Promise<string> => String((await store?.query(`SELECT current_setting('memory_limit') AS limit`))?.[0]?.limit);
    try {
      delete process.env.PARITY_HUGE_PAGES;
      const byDefault = await poolOf(() => Store.open(':memory:'));
      expect(byDefault.opened).not.toContain('hg');
      // Huge pages where they cost less to touch than 4 KB pages now, and those are dear: the store says which, and why.
      expect(byDefault.setup.why).toMatch(/^first touch of a MiB: 2 MB pages \d+\.\d\d ms, 4 KB pages \d+\.\d\d ms$/);
      expect(byDefault.working.includes('hg')).toBe(byDefault.setup.hugePages);
      // With them the whole memory limit kept as blocks for the large work, half of it before; without, as before.
      if (byDefault.setup.hugePages) {
        expect(byDefault.keptWorking).toBe(await limit(opened[0]));
        expect(byDefault.keptBefore).not.toBe(byDefault.keptWorking);
      } else {
        expect(byDefault.keptWorking).toBe(byDefault.keptBefore);
      }
      process.env.PARITY_HUGE_PAGES = '1';
      const always = await poolOf(() => Store.open(':memory:'));
      expect(always.setup).toEqual({ hugePages: true, why: 'PARITY_HUGE_PAGES=1' });
      expect(always.opened).toContain('hg');
      expect(always.working).toContain('hg');
      expect(always.keptWorking).toBe(await limit(opened[1]));
      const recording = await poolOf(() => Store.open(':memory:', RECORDING_STORE));
      expect(recording.setup.hugePages).toBe(false);
      expect(recording.opened).not.toContain('hg');
      expect(recording.working).not.toContain('hg');
      expect(recording.keptWorking).toBe(recording.keptBefore);
      process.env.PARITY_HUGE_PAGES = '0';
      const turnedOff = await poolOf(() => Store.open(':memory:'));
      expect(turnedOff.setup.hugePages).toBe(false);
      expect(turnedOff.opened).not.toContain('hg');
      expect(turnedOff.working).not.toContain('hg');
      expect(turnedOff.keptWorking).toBe(turnedOff.keptBefore);
    } finally {
      if (asked === undefined) delete process.env.PARITY_HUGE_PAGES;
      else process.env.PARITY_HUGE_PAGES = asked;
      for (const store of opened) store.close();
    }
  });

  it.skipIf(!addonsBuildable || !thpAdvisable)('weighs what a first touch of fresh memory costs now, in 4 KB pages and in huge pages, by touching it', () => {
    const cost = firstTouchCost();
    expect(cost).toBeDefined();
    // A first touch is a page fault and a page zeroed: never free, and far under a second a MiB on any machine.
    for (const ns of [cost?.smallPagesNsPerMib, cost?.hugePagesNsPerMib]) {
      expect(ns).toBeGreaterThan(0);
      expect(ns).toBeLessThan(1e9);
    }
  });

  it('asks for huge pages only where 4 KB pages are dear to touch and huge pages less so', () => {
    const msPerMib = (small: number, huge: number): boolean => hugePagesPay({ smallPagesNsPerMib: small * 1e6, hugePagesNsPerMib: huge * 1e6 });
    // The days measured (docs/performance.md): every fresh page a fault in the host as well, huge pages about half.
    expect(msPerMib(2.77, 1.81)).toBe(true);
    expect(msPerMib(3.8, 2.1)).toBe(true);
    // The host still backing the small pieces freed before, huge pages seven times as dear.
    expect(msPerMib(0.43, 2.9)).toBe(false);
    // Huge pages that look cheap because a process just freed 2 MB blocks the host still backs: small pages cheap too.
    expect(msPerMib(0.43, 0.06)).toBe(false);
    // Both dear, huge pages the dearer.
    expect(msPerMib(2.5, 3.5)).toBe(false);
  });

  it('refuses a PARITY_HUGE_PAGES that is not 0 or 1, in one line, as it does a PARITY_MEMORY_LIMIT that is not a size', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'store.duckdb');
      const imported = await runParity(['import', join(import.meta.dirname, '../../fixtures/fleet-calamp.pcap'), '--db', db]);
      expect(imported.code).toBe(0);
      for (const [name, value, message] of [
        ['PARITY_HUGE_PAGES', 'yes', 'PARITY_HUGE_PAGES: "yes" is not 0 or 1'],
        ['PARITY_MEMORY_LIMIT', 'lots', 'PARITY_MEMORY_LIMIT: "lots" is not a size such as 512MB or 8GB'],
      ] as const) {
        const run = await runParity(['runs', '--db', db], { env: { [name]: value } });
        expect(run.code).toBe(1);
        expect(run.stderr.trim().split('\n')).toEqual([`parity: ${message}`]);
      }
    });
  });
});
