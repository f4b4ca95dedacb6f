import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIGINT, DuckDBInstance, UBIGINT, type DuckDBAppender, type DuckDBConnection, type DuckDBType, type DuckDBValue, type JS } from '@duckdb/node-api';
import { isStoreLocked, storeLockedError } from './store-lock.ts';
import { ChunkFeed } from './chunk-feed.ts';
import { SharedSetting } from './shared-setting.ts';
import { errorLine, StoreError, StoreLookupError, UsageError } from '../core/errors.ts';
import { debug } from '../core/debug.ts';
import { makeOutputDir } from '../core/output-dir.ts';
import { adviseHugePages, firstTouchCost, hugePagesPay, keepFreedMemory, largeAnonymousMappings, largeMappingsSince } from './freed-memory.ts';
import { migratePacketParity } from './packet-parity-migration.ts';

/** Default store file, relative to the working directory (docs/architecture.md). */
export const DEFAULT_STORE_PATH = 'parity.duckdb';

export type Row = Record<string, JS>;
export type SqlParams = DuckDBValue[] | Record<string, DuckDBValue>;

const SCHEMA_SQL = readFileSync(fileURLToPath(new URL('./schema.sql', import.meta.url)), 'utf8');

/**
 * One DuckDB file, opened with the project's schema in place. DuckDB allows one writing process per file: the harness
 * opens the store in the process that runs a stage, and processes it starts (backends, relay) report to it.
 */
/** A batching writer whose commits the store can time (see `flushStale`). */
export interface FlushableWriter {
  flushIfStale(maxAgeMs: number): void;
}

export class Store {
  private readonly writers = new Set<FlushableWriter>();
  private readonly writerConnections = new Set<DuckDBConnection>();
  private readonly insertionOrder = new SharedSetting('preserve_insertion_order', 'false');
  /** DuckDB's threads while runs record traffic in this process (RunSession). */
  private readonly recordingThreads = new SharedSetting('threads', String(RECORDING_THREADS));

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    /** DuckDB's memory limit as the store was opened with it (engineSettings): what a capped piece of work sets back. */
    private readonly memoryLimit: string,
    /** DuckDB's block pool: the mappings it reserved as the store opened, and when they ask for huge pages. */
    private readonly pool: { ranges: readonly string[]; hugePages: HugePages },
  ) {}

  static async open(path: string = DEFAULT_STORE_PATH, options: StoreOptions = {}): Promise<Store> {
    const settings = engineSettings(path, options);
    // Before DuckDB's threads start: what they free stays theirs to use again (freed-memory.ts).
    keepFreedMemory();
    const hugePages = hugePagesOf(path, options);
    // Only a store whose pool may ask for huge pages looks for it: a recording process opens its store with no
    // /proc reads.
    const before = hugePages === 'never' ? undefined : largeAnonymousMappings();
    // A directory that cannot be made (a file in the way) is the user's --db, named as such, not DuckDB's fault.
    if (path !== ':memory:') makeOutputDir(dirname(path), '--db');
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path, settings);
    } catch (cause) {
      const line = errorLine(cause);
      if (isStoreLocked(cause)) throw storeLockedError(path, line, cause);
      // --db naming a file that is not a store (a capture, a directory, an empty file) is the user's input, not a
      // fault of the harness or its machine: exit 2, as for any bad input.
      if (/not a valid DuckDB database file|Is a directory/.test(line)) {
        throw new UsageError(`${path}: not a DuckDB store (${line})`, { file: path, field: 'db' }, { cause });
      }
      throw new StoreError(`${path}: cannot open the store: ${line}`, { file: path }, { cause });
    }
    const pool = before === undefined ? [] : largeMappingsSince(before);
    if (hugePages === 'always') debug('huge pages advised for %d new mappings', adviseHugePages(pool));
    const connection = await instance.connect();
    const store = new Store(path, instance, connection, settings.memory_limit as string, { ranges: pool, hugePages });
    try {
      // Once per store made before, at about 2 s a 4M rows: a long pause on a large one is said where someone watches.
      // Before the schema, whose view of packet_parity could not replace the table such a store holds.
      const migrating = (rows: number): void => {
        if (rows >= 1_000_000 && process.stderr.isTTY) process.stderr.write(`parity: ${path}: carrying ${rows.toLocaleString('en-US')} analysed rows over to this version's packet_parity (once)\n`);
      };
      if (await migratePacketParity(connection, SCHEMA_SQL, migrating)) debug('packet_parity of %s carried over to packet_parity_rows', path);
      // One transaction: statement by statement, each committed on its own, a new store's schema took 43-51 ms of every
      // import's first 0.1 s; together 17-23 ms.
      await connection.run(`BEGIN TRANSACTION;\n${SCHEMA_SQL}\nCOMMIT;`);
      // DuckDB (1.5) cannot replay an ALTER TABLE of a table with a nextval() default from its WAL: a process killed
      // before its first checkpoint would leave a store no one can open. Checkpointing the schema keeps DDL out of it.
      if (path !== ':memory:') await connection.run('CHECKPOINT');
    } catch (cause) {
      store.close();
      throw new StoreError(`${path}: cannot create the schema: ${errorLine(cause)}`, { file: path }, { cause });
    }
    debug('store opened %s', path);
    return store;
  }

  async exec(sql: string, params?: SqlParams): Promise<void> {
    try {
      const used = usedParams(sql, params);
      await this.connection.run(sql, used, paramTypes(used));
    } catch (cause) {
      throw new StoreError(`${this.path}: ${errorLine(cause)}`, { file: this.path }, { cause });
    }
  }

  /** Runs a query and returns its rows as plain JS values (BIGINT as bigint, BLOB as Uint8Array). */
  async query(sql: string, params?: SqlParams): Promise<Row[]> {
    try {
      const used = usedParams(sql, params);
      const reader = await this.connection.runAndReadAll(sql, used, paramTypes(used));
      return reader.getRowObjectsJS();
    } catch (cause) {
      throw new StoreError(`${this.path}: ${errorLine(cause)}`, { file: this.path }, { cause });
    }
  }

  /**
   * Runs `fn` with DuckDB's memory capped at `limitBytes` (never raised: a store opened with less keeps its own), then
   * sets the store's limit back. While an import or a replay appends, DuckDB would otherwise keep every page written
   * in its pool, and memory would grow with the size of the file or the length of the run.
   */
  async withMemoryLimit<T>(limitBytes: number, fn: () => Promise<T>): Promise<T> {
    const currentBytes = sizeInBytes(this.memoryLimit);
    if (currentBytes !== undefined && currentBytes <= limitBytes) return fn();
    await this.exec(`SET memory_limit = '${Math.ceil(limitBytes / MIB)}MiB'`);
    try {
      return await fn();
    } finally {
      // Set back as opened: the setting as DuckDB prints it is rounded down ('10.1 GiB'), and setting that back lost up
      // to a tenth of a GiB each time. RESET restores the setting's value but (DuckDB 1.5) not the buffer pool's limit.
      await this.exec(`SET memory_limit = '${this.memoryLimit}'`);
    }
  }

  /** How the store was readied for large work (readyForLargeWork), once it was. */
  largeWork: LargeWorkSetup | undefined;

  /**
   * Readies the store for work whose tables fill much of DuckDB's memory (the analysis of a run of 100,000
   * observations or more, analyse-run.ts), whose first touches of fresh memory may cost more than its SQL: when
   * DuckDB's pool may ask for transparent huge pages, 4 KB pages are dear to touch now (firstTouchCost) and huge pages
   * less so, the pool asks for them and the whole memory limit is kept as blocks for reuse (past half, DuckDB took its
   * blocks from its jemalloc in 4 KB pages). On this project's machine, a virtual machine, which is cheaper changes
   * with the host's state: on a day when every fresh page cost a fault in the host as well, this took 10M
   * observations' analysis from 7.9 s to 6.2-6.5 s and 100M's from 90-119 s to 70-78 s; on a day when the host still
   * backed the small pieces of memory freed before, huge pages cost seven times as much as 4 KB pages and the same
   * setup made 100M 5-10% slower (docs/performance.md). PARITY_HUGE_PAGES=1 readies it without asking, 0 never; nor
   * for a store that records traffic as it passes. Until the store closes: DuckDB cannot lower the blocks it keeps
   * again.
   */
  async readyForLargeWork(): Promise<LargeWorkSetup> {
    this.largeWork = await this.setUpLargeWork();
    debug('large work in %s', describeLargeWork(this.largeWork));
    return this.largeWork;
  }

  private async setUpLargeWork(): Promise<LargeWorkSetup> {
    if (this.pool.hugePages === 'never') return { hugePages: false, why: 'not for this store' };
    let why = 'PARITY_HUGE_PAGES=1';
    if (this.pool.hugePages === 'large work') {
      const cost = firstTouchCost();
      if (cost === undefined) return { hugePages: false, why: 'what a first touch costs cannot be measured here' };
      const costs = `first touch of a MiB: 2 MB pages ${(cost.hugePagesNsPerMib / 1e6).toFixed(2)} ms, 4 KB pages ${(cost.smallPagesNsPerMib / 1e6).toFixed(2)} ms`;
      if (!hugePagesPay(cost)) return { hugePages: false, why: costs };
      adviseHugePages(this.pool.ranges);
      why = costs;
    }
    await this.exec(`SET block_allocator_memory = '${this.memoryLimit}'`);
    return { hugePages: true, why };
  }

  registerWriter(writer: FlushableWriter): void {
    this.writers.add(writer);
  }

  unregisterWriter(writer: FlushableWriter): void {
    this.writers.delete(writer);
  }

  /**
   * Commits the writers that have not committed for `maxAgeMs`. A commit blocks the event loop for 5-15 ms, so
   * timing-critical code (the replay pacer) calls this when it has time to spare, instead of letting a timer
   * commit in the middle of a burst.
   */
  flushStale(maxAgeMs: number): void {
    for (const writer of this.writers) writer.flushIfStale(maxAgeMs);
  }

  /** Another connection to the same database, e.g. to stream a query while this one writes; the caller closes it. */
  async connect(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  /** An appender on the store's own connection: for TEMP tables, which only that connection sees. */
  async createAppender(table: string): Promise<DuckDBAppender> {
    return this.connection.createAppender(table);
  }

  /**
   * An appender on a connection of its own, for writers that flush on a timer: a synchronous flush on the connection
   * an async query (the relay poller's insert, an analysis) is running on invalidates that query's pending result
   * ("Attempting to execute an unsuccessful or closed pending query result"). `release` closes the connection.
   */
  async createWriterAppender(table: string): Promise<{ appender: DuckDBAppender; release: () => void }> {
    const connection = await this.instance.connect();
    this.writerConnections.add(connection);
    try {
      const appender = await connection.createAppender(table);
      return {
        appender,
        release: () => {
          if (this.writerConnections.delete(connection)) connection.closeSync();
        },
      };
    } catch (cause) {
      this.writerConnections.delete(connection);
      connection.closeSync();
      throw new StoreError(`${this.path}: cannot append to ${table}: ${errorLine(cause)}`, { file: this.path }, { cause });
    }
  }

  /** A bulk load into `table` on a connection of its own (ChunkFeed): for imports, a replay's sends and every writer of observations, none of which may wait for DuckDB. */
  async createFeed(table: string): Promise<ChunkFeed> {
    const connection = await this.instance.connect();
    try {
      return await ChunkFeed.open(connection, table, this.insertionOrder);
    } catch (cause) {
      connection.closeSync();
      throw new StoreError(`${this.path}: cannot load ${table}: ${errorLine(cause)}`, { file: this.path }, { cause });
    }
  }

  /**
   * A run begins recording traffic in this process: until the last one ends (`endRecording`), DuckDB works on
   * RECORDING_THREADS threads, as a process that only records does (why: RECORDING_THREADS). A replay's sends and the
   * devices' ACKs come in through feeds while its sending thread and the ACK reader share the machine with them.
   */
  async beginRecording(): Promise<void> {
    await this.recordingThreads.override(this.connection);
  }

  /** A run recording in this process has ended; after the last, DuckDB has its threads back (an analysis may follow). */
  async endRecording(): Promise<void> {
    await this.recordingThreads.restore(this.connection);
  }

  close(): void {
    for (const connection of this.writerConnections) connection.closeSync();
    this.writerConnections.clear();
    this.connection.closeSync();
    this.instance.closeSync();
    debug('store closed %s', this.path);
  }
}

/**
 * How much memory DuckDB may take before it spills to disk, and where it spills. Set deliberately rather than left
 * at DuckDB's default (80% of the machine): the harness shares the machine with the relay, the backends and the
 * replayer, and an analysis of a day of traffic must spill, not be killed. `PARITY_MEMORY_LIMIT` (a DuckDB size such
 * as `8GB`) overrides half the machine's memory.
 *
 * And how DuckDB keeps the memory it has freed: by default its allocator gives memory back to the system after each
 * task that peaked above 128 MiB, and after any bulk release above 512 MiB, and each later use faults the pages in
 * again (an analysis of 10M observations took 800,000 page faults for a 2 GB peak; at about 10 µs a fault on a virtual
 * machine, 7-12 s of system time). It keeps what it frees up to the memory limit now, half of it as blocks for reuse:
 * 7-18% off that analysis in seven alternating pairs (`docs/performance.md`), and the 100M-observation analysis peaked
 * at 11.6 GB of RSS under the 12 GB limit, against 12.4 GB before. A store is closed when its command ends.
 */
export function engineSettings(path: string, options: StoreOptions = {}): Record<string, string> {
  const asked = process.env.PARITY_MEMORY_LIMIT;
  const memoryLimit = asked !== undefined && asked !== '' ? asked : `${Math.max(1, Math.floor(totalmem() / 2 ** 30 / 2))}GB`;
  const limitBytes = /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(memoryLimit) ? sizeInBytes(memoryLimit) : undefined;
  if (limitBytes === undefined) {
    throw new StoreError(`PARITY_MEMORY_LIMIT: "${memoryLimit}" is not a size such as 512MB or 8GB`, { file: path });
  }
  const kept = {
    allocator_flush_threshold: memoryLimit,
    allocator_bulk_deallocation_flush_threshold: memoryLimit,
    block_allocator_memory: `${Math.floor(limitBytes / 2 / MIB)}MiB`,
  };
  const settings = {
    memory_limit: memoryLimit,
    ...kept,
    // No perfect hash aggregates: over the few small numbers the metrics group by (route, backend), DuckDB picks one,
    // and it merges the threads' quantile states more slowly than its ordinary hash aggregate (08 0.32-0.34 s against
    // 0.49-0.52 s on the bench's 10M-observation run).
    perfect_ht_threshold: '0',
    storage_compatibility_version: STORAGE_VERSION,
    ...(options.threads !== undefined && { threads: String(options.threads) }),
  };
  return path === ':memory:' ? settings : { ...settings, temp_directory: `${path}.spill` };
}

/**
 * The storage format a new store is written in. DuckDB writes its oldest readable format (v1.0.0) unless told
 * otherwise, and there it weighs three compressions for every text column it stores (dictionary, FSST, none); from
 * v1.5.0 it has one that does both (DICT_FSST). On the bench's 10M-observation analysis, `05c` (4M rows with five text
 * columns) took 1.9 s against 2.2-2.3 s, and the whole 7.0-7.4 s against 7.7-8.7 s in alternating runs, every result
 * identical (docs/performance.md). A store keeps the format it was made in: an existing one is read and written as
 * before. The price: DuckDB older than 1.5 cannot open a store made now (Parquet exports are unaffected).
 */
export const STORAGE_VERSION = 'v1.5.0';

const MIB = 2 ** 20;
const SIZE_UNITS: Record<string, number> = { bytes: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: MIB, gib: 2 ** 30, tib: 2 ** 40 };

/** Bytes in a size as DuckDB prints a setting ('10.0 GiB', '61.0 MiB', '512 bytes'); undefined if it is not one. */
export function sizeInBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  const unit = match === null ? undefined : SIZE_UNITS[(match[2] as string).toLowerCase()];
  return match === null || unit === undefined ? undefined : Number(match[1]) * unit;
}

/** Whether large work (Store.readyForLargeWork) runs in huge pages, with the whole memory limit kept as blocks, and why. */
export interface LargeWorkSetup {
  hugePages: boolean;
  why: string;
}

/** A large-work setup in words: `huge pages (first touch of a MiB: ...)`. */
export function describeLargeWork(setup: LargeWorkSetup): string {
  return `${setup.hugePages ? 'huge pages' : '4 KB pages'} (${setup.why})`;
}

/** How a store is opened for the work a process does with it. */
export interface StoreOptions {
  /** DuckDB's threads (default: one per core); a process that only records sets RECORDING_THREADS. */
  threads?: number;
  /**
   * false: DuckDB's block pool never in transparent huge pages, whatever PARITY_HUGE_PAGES says: for a process that
   * records traffic as it passes, where a 2 MB page is zeroed at once on the thread that first touches it, which may
   * be the one forwarding or answering. Otherwise the pool asks for them for large work where they cost less than 4 KB
   * pages now (Store.readyForLargeWork), or from the opening with PARITY_HUGE_PAGES=1. Smaller work keeps the pool as
   * opened: what its first touches cost is little beside its SQL.
   */
  hugePages?: boolean;
}

/**
 * DuckDB's threads in a process that only records traffic as it passes (a tap, a live capture, a backend with --db).
 * Its rows go in through a feed (chunk-feed.ts): an INSERT whose source hands over chunks from the JS thread, which
 * is busy forwarding or answering. With two threads the query's own thread spins on DuckDB's task queue for as long
 * as the other waits for the JS thread to take its call; with one it runs the INSERT itself and sleeps while it
 * waits. A tap recording at 10k pps spent 55-62 µs of CPU a request and reply with one thread against 64-69 µs with
 * two (docs/performance.md, 2026-12-01). A bulk import keeps both: there DuckDB's threads, not the JS one, set the pace.
 */
export const RECORDING_THREADS = 1;

/**
 * When DuckDB's pool asks for transparent huge pages: never (StoreOptions.hugePages false, or PARITY_HUGE_PAGES=0),
 * always (PARITY_HUGE_PAGES=1, from the store's opening), or else for large work where they cost less
 * (Store.readyForLargeWork).
 */
type HugePages = 'never' | 'always' | 'large work';

function hugePagesOf(path: string, options: StoreOptions): HugePages {
  const asked = process.env.PARITY_HUGE_PAGES;
  if (asked !== undefined && asked !== '' && asked !== '0' && asked !== '1') {
    throw new StoreError(`PARITY_HUGE_PAGES: "${asked}" is not 0 or 1`, { file: path });
  }
  if (options.hugePages === false || asked === '0') return 'never';
  return asked === '1' ? 'always' : 'large work';
}

/** How a process that only records traffic as it passes opens its store (RECORDING_THREADS, no huge pages). */
export const RECORDING_STORE: StoreOptions = { threads: RECORDING_THREADS, hugePages: false };

/** Opens the store, runs `fn`, and closes the store whatever happens. */
export async function withStore<T>(path: string, fn: (store: Store) => Promise<T>, options: StoreOptions = {}): Promise<T> {
  const store = await Store.open(path, options);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

/** Whether there is a store at `path` to read: opening a path creates a store there. */
export function storeExists(path: string): boolean {
  return path === ':memory:' || existsSync(path);
}

/**
 * `withStore` for a command that needs what a store holds (analyse, report, export, replay): a path with no store
 * is an error naming it, and no empty store is left behind (a mistyped --db made one).
 */
export async function withExistingStore<T>(path: string, fn: (store: Store) => Promise<T>): Promise<T> {
  requireStore(path);
  return withStore(path, fn);
}

/** Throws the error `withExistingStore` gives where there is no store at `path`. */
export function requireStore(path: string): void {
  if (!storeExists(path)) throw new StoreLookupError(`${path}: no store there (parity import, record, run and demo make one; --db names it)`, { file: path });
}

/**
 * The named parameters a statement uses: DuckDB refuses any it does not, and the analysis passes one set of
 * parameters to a series of statements.
 */
function usedParams(sql: string, params: SqlParams | undefined): SqlParams | undefined {
  if (params === undefined || Array.isArray(params)) return params;
  return Object.fromEntries(Object.entries(params).filter(([name]) => new RegExp(`\\$${name}\\b`).test(sql)));
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * The types to bind a statement's parameters as, where the bindings' own choice costs: they bind every JavaScript
 * bigint as a HUGEINT, and a HUGEINT in a row's arithmetic made the whole column HUGEINT (grouping 3.8M packets by
 * `(ts_ns - $first) // $half` took 0.77 s instead of 0.04 s). A bigint that fits is bound as a BIGINT, or an UBIGINT
 * (a 64-bit hash); any other parameter as the bindings choose.
 */
export function paramTypes(params: SqlParams | undefined): Record<string, DuckDBType | undefined> | undefined {
  // The project's statements name their parameters; positional ones are bound as the bindings choose.
  if (params === undefined || Array.isArray(params)) return undefined;
  const types: Record<string, DuckDBType | undefined> = {};
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'bigint') continue;
    if (value >= INT64_MIN && value <= INT64_MAX) types[name] = BIGINT;
    else if (value > INT64_MAX && value <= UINT64_MAX) types[name] = UBIGINT;
  }
  return types;
}

/** A BIGINT, INTEGER or DOUBLE column value as a number (0 for NULL). */
export function num(value: JS | undefined): number {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  return 0;
}

export function numOrNull(value: JS | undefined): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function str(value: JS | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

/** A VARCHAR column value as a string, or null for NULL. */
export function strOrNull(value: JS | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}
