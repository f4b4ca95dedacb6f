import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import duckdb from '@duckdb/node-bindings';
import { BLOB, DuckDBDataChunk, type DuckDBBlobVector } from '@duckdb/node-api';
import { loadAddon } from '../core/native-addon.ts';

/**
 * A data chunk's strings or blobs, a column at a time, through DuckDB's C API (duckdb-strings.c): one native call per
 * chunk's column where the bindings take one per value longer than 12 bytes.
 */
export interface DuckdbStrings {
  /**
   * Assigns `count` values to `vector`: value i is `arena` from where value i-1 ended (0 for the first) to `ends[i]`,
   * into row `rows[i]`.
   */
  assign(vector: duckdb.Vector, arena: Uint8Array, ends: Uint32Array, rows: Uint32Array, count: number): void;
  /**
   * The first `count` values of `vector` back to back into `dest`, `ends[i]` where value i ends (a NULL is empty); the
   * bytes copied, or minus the bytes needed when `dest` is too small (then nothing is copied).
   */
  copy(vector: duckdb.Vector, count: number, dest: Uint8Array, ends: Uint32Array): number;
}

interface Addon {
  bind(libraryPath: string): number;
  assign(vector: duckdb.Vector, arena: Uint8Array, ends: Uint32Array, rows: Uint32Array, count: number): number;
  copy(vector: duckdb.Vector, count: number, dest: Uint8Array, ends: Uint32Array): number | undefined;
}

/** Where `npm install` builds the addon (src/core/build-addons.js), and its source. */
const ADDON_PATH = fileURLToPath(new URL('../../build/duckdb-strings.node', import.meta.url));
const ADDON_SOURCE = fileURLToPath(new URL('./duckdb-strings.c', import.meta.url));

let loaded: DuckdbStrings | null | undefined;
/** Why the C string path is not in use (the store then makes one call per value); empty when it is. */
export let duckdbStringsMissing = '';

/**
 * The C string path, or undefined where it is not built (no C compiler at install), is stale, cannot find the DuckDB
 * library the bindings loaded, or does not give back what the bindings do (checked once, on a chunk of its own).
 * PARITY_DUCKDB_STRINGS=js turns it off.
 */
export function duckdbStrings(): DuckdbStrings | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  try {
    if (process.env.PARITY_DUCKDB_STRINGS === 'js') duckdbStringsMissing = 'PARITY_DUCKDB_STRINGS=js';
    else {
      const result = loadDuckdbAddon<Addon>(ADDON_PATH, ADDON_SOURCE);
      if ('missing' in result) duckdbStringsMissing = result.missing;
      else {
        const { addon } = result;
        const strings: DuckdbStrings = {
          assign: (vector, arena, ends, rows, count) => {
            if (addon.assign(vector, arena, ends, rows, count) !== count) throw new Error(`duckdb-strings: ${count} values did not fit their arena`);
          },
          copy: (vector, count, dest, ends) => {
            const copied = addon.copy(vector, count, dest, ends);
            if (copied === undefined) throw new Error(`duckdb-strings: ${count} values could not be read`);
            return copied;
          },
        };
        const fault = selfCheck(strings);
        if (fault === undefined) loaded = strings;
        else duckdbStringsMissing = `${ADDON_PATH} ${fault}`;
      }
    }
  } catch (error) {
    duckdbStringsMissing = `${ADDON_PATH} does not load: ${(error as Error).message.split('\n')[0] ?? ''}`;
  }
  return loaded ?? undefined;
}

/**
 * An addon that works on DuckDB's C API (this file's, duckdb-feed.c), built at `binary` from `source` and bound to the
 * DuckDB library the bindings loaded (its `bind`), or why not: `loadAddon`'s reasons, or that library not found.
 */
export function loadDuckdbAddon<T extends { bind(libraryPath: string): number }>(binary: string, source: string): { addon: T } | { missing: string } {
  const result = loadAddon<T>(binary, source);
  if ('missing' in result) return result;
  const library = duckdbLibrary(createRequire(import.meta.url));
  if (library === undefined || result.addon.bind(library) !== 1) return { missing: `DuckDB's library is not where ${binary} looks for it` };
  return result;
}

/** The DuckDB library beside the bindings' addon (the platform's package), as the bindings loaded it. */
function duckdbLibrary(require: NodeJS.Require): string | undefined {
  for (const name of ['libduckdb.so', 'libduckdb.dylib']) {
    try {
      return require.resolve(`@duckdb/node-bindings-${process.platform}-${process.arch}/${name}`);
    } catch {
      // Not this platform's name.
    }
  }
  return undefined;
}

/**
 * Values written through the addon read back the same through the bindings, and the reverse, on a chunk of its own:
 * the addon relies on the C API's `duckdb_string_t` and on what the bindings' vector objects hold, and a version of
 * either that changed would otherwise corrupt what is stored. A fault names itself; undefined when all is well.
 */
function selfCheck(strings: DuckdbStrings): string | undefined {
  const values = [new Uint8Array(0), Uint8Array.from({ length: 12 }, (_, i) => i + 1), Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 255)];
  const arena = new Uint8Array(values.reduce((sum, v) => sum + v.length, 0));
  const ends = new Uint32Array(values.length);
  let at = 0;
  values.forEach((value, i) => {
    arena.set(value, at);
    ends[i] = at += value.length;
  });
  const chunk = DuckDBDataChunk.create([BLOB]);
  chunk.rowCount = values.length;
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, 0);
  strings.assign(vector, arena, ends, Uint32Array.from(values.keys()), values.length);
  const written = chunk.getColumnVector(0) as DuckDBBlobVector;
  for (const [i, value] of values.entries()) {
    if (!equal(written.getItemBytes(i) ?? new Uint8Array(1), value)) return `wrote value ${i} wrong`;
  }
  const back = new Uint8Array(arena.length);
  const backEnds = new Uint32Array(values.length);
  if (strings.copy(vector, values.length, back, backEnds) !== arena.length || !equal(back, arena) || !equal(new Uint8Array(backEnds.buffer), new Uint8Array(ends.buffer))) return 'read the values back wrong';
  return undefined;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
