import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../core/native-addon.ts';

interface Addon {
  keep(): number;
  hugePages(start: number, length: number): number;
  keepJemalloc(): number;
  firstTouchNs(bytes: number, costs: Float64Array): number;
}

const ADDON_PATH = fileURLToPath(new URL('../../build/freed-memory.node', import.meta.url));
const ADDON_SOURCE = fileURLToPath(new URL('./freed-memory.c', import.meta.url));

let why: string | undefined;
let addon: Addon | undefined;
let jemallocArenas = -1;

/**
 * Has this process keep the memory it frees for its own next use (freed-memory.c): DuckDB's operators allocate their
 * working memory through glibc's malloc and through DuckDB's own jemalloc, which otherwise hand it back after each
 * query or within a second, and the next query faults it in again. Settled once per process; returns why glibc's is
 * not kept, or '' when it is (jemallocArenasKept says the same of jemalloc's). Where the addon is not built (no C
 * compiler at install) or the C library is not glibc, memory is handed back as by default: slower, not wrong.
 */
export function keepFreedMemory(): string {
  if (why !== undefined) return why;
  const result = loadAddon<Addon>(ADDON_PATH, ADDON_SOURCE);
  if ('missing' in result) why = result.missing;
  else {
    addon = result.addon;
    why = result.addon.keep() === 1 ? '' : 'the C library is not glibc, or glibc refused the settings';
    jemallocArenas = result.addon.keepJemalloc();
  }
  return why;
}

/**
 * How many of DuckDB's jemalloc arenas keep what they free (freed-memory.c, keepJemalloc), those made later too; -1
 * where DuckDB's jemalloc is not in the process or the addon is not built.
 */
export function jemallocArenasKept(): number {
  keepFreedMemory();
  return jemallocArenas;
}

/** DuckDB reserves its block pool as one mapping the size of most of the machine's memory; nothing else here is near. */
const POOL_MAPPING_BYTES = 2 ** 30;

/** This process's anonymous read-write mappings of at least 1 GiB, as "start-end" in hex (Linux; none elsewhere). */
export function largeAnonymousMappings(): Set<string> {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return new Set();
  }
  const found = new Set<string>();
  for (const line of maps.split('\n')) {
    // start-end perms offset dev inode [path]: anonymous mappings have inode 0 and no path.
    const [range = '', perms, , , inode, path] = line.split(/\s+/);
    if (perms !== 'rw-p' || inode !== '0' || (path !== undefined && path !== '')) continue;
    const [start = '', end = ''] = range.split('-');
    if (parseInt(end, 16) - parseInt(start, 16) >= POOL_MAPPING_BYTES) found.add(range);
  }
  return found;
}

/** The large anonymous mappings (largeAnonymousMappings) made since `before`: as a store opens, DuckDB's block pool. */
export function largeMappingsSince(before: ReadonlySet<string>): string[] {
  return [...largeAnonymousMappings()].filter((range) => !before.has(range));
}

/**
 * Asks for transparent huge pages on `ranges` ("start-end" in hex, largeMappingsSince): DuckDB's block pool. On this
 * project's machine, a virtual machine, memory touched the first time cost 13-19 µs a 4 KB page on some days and
 * about half that in 2 MB pages; on others 4 KB pages its host still backed cost 1.7 µs, where 2 MB pages took blocks
 * the host had been handed back (docs/performance.md, 2026-12-01 and thirty-fourth session). Returns how many ranges
 * were advised.
 */
export function adviseHugePages(ranges: readonly string[]): number {
  keepFreedMemory();
  if (addon === undefined) return 0;
  let advised = 0;
  for (const range of ranges) {
    const [start = '', end = ''] = range.split('-');
    if (addon.hugePages(parseInt(start, 16), parseInt(end, 16) - parseInt(start, 16)) === 0) advised++;
  }
  return advised;
}

/** What touching fresh memory for the first time costs now, in ns a MiB, in each page size. */
export interface FirstTouchCost {
  smallPagesNsPerMib: number;
  hugePagesNsPerMib: number;
}

/** Fresh memory the probe touches in each page size: four 2 MB pages, 5-40 ms in all on this project's machine. */
const PROBE_BYTES = 8 * 2 ** 20;

/**
 * What a first touch of fresh memory costs now in 4 KB pages and in transparent huge pages (freed-memory.c,
 * firstTouchNs); undefined where it cannot be asked (the addon not built, a kernel without them). Once per process,
 * before it has freed much: memory just handed back is still backed, and would answer for fresh memory.
 */
export function firstTouchCost(): FirstTouchCost | undefined {
  keepFreedMemory();
  if (addon === undefined) return undefined;
  const costs = new Float64Array(2);
  if (addon.firstTouchNs(PROBE_BYTES, costs) !== 0) return undefined;
  const mib = PROBE_BYTES / 2 ** 20;
  return { smallPagesNsPerMib: (costs[0] ?? 0) / mib, hugePagesNsPerMib: (costs[1] ?? 0) / mib };
}

/**
 * From what a first touch of a MiB in 4 KB pages costs (about 4 µs a page) large work asks for huge pages, if they
 * cost less. Below it the small pages are what the host still backs: 0.4 ms a MiB on the day (2026-12-06,
 * thirty-fourth session) when huge pages cost seven times as much; 1.8-4 ms on the days they saved a fifth of the
 * time (the thirty-third and fortieth sessions). The probe of huge pages alone can be fooled: 2 MB blocks freed by a
 * process that just ended are still backed for a while, and cost 0.06 ms a MiB, where the rest of the work's would
 * cost more.
 */
const DEAR_NS_PER_MIB = 1_000_000;

/** Whether work that touches much fresh memory is better off in huge pages, by what a first touch costs now. */
export function hugePagesPay(cost: FirstTouchCost): boolean {
  return cost.smallPagesNsPerMib >= DEAR_NS_PER_MIB && cost.hugePagesNsPerMib <= cost.smallPagesNsPerMib;
}
