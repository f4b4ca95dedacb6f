/**
 * Rows of text and bytes that cross every case of DuckDB's string layout: empty, 12 bytes (the longest inline), 13,
 * multi-byte UTF-8 longer in bytes than in characters (inline by length in UTF-16, long in bytes), surrogate pairs,
 * 64 KB blobs, NULLs; deterministic, so a writer and a reader in different processes agree on them.
 */
export interface StringRow {
  id: number;
  text: string | null;
  bytes: Uint8Array | null;
}

const TEXTS = ['', 'a', '127.30.0.1:1', '127.30.0.10:1', 'ümlaut-äöü', 'π', 'ππππππ', 'πππππππ', '設備-π-αβγ-長い文字列の装置名', '😀 two units each 😀', 'x'.repeat(200)];
const BLOB_SIZES = [0, 1, 12, 13, 60, 300, 1472, 65_507];

export function stringRows(count: number): StringRow[] {
  return Array.from({ length: count }, (_, id) => {
    const text = id % 7 === 3 ? null : `${TEXTS[id % TEXTS.length] as string}${id % 5 === 0 ? '' : `#${id}`}`;
    const size = BLOB_SIZES[id % BLOB_SIZES.length] as number;
    if (id % 11 === 4) return { id, text, bytes: null };
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + id) & 255;
    return { id, text, bytes };
  });
}
