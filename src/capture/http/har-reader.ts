import { isStorableNs } from '../../core/epoch-ns.ts';
import { CaptureFormatError } from '../../core/errors.ts';

/** One request and (where it came) its response, as a HAR 1.2 entry records them. */
export interface HttpExchange {
  /** Wall-clock ns the request started (HAR `startedDateTime`). */
  tsNs: bigint;
  method: string;
  url: string;
  httpVersion: string | null;
  requestHeaders: [string, string][];
  /** The body sent, when the file recorded it; null when it did not (browsers leave some out). */
  requestBody: Uint8Array | null;
  /** null: no response was recorded (aborted, failed, blocked). */
  status: number | null;
  responseHeaders: [string, string][];
  responseBody: Uint8Array | null;
  durationMs: number | null;
  /** What the entry lacks: kept and flagged, never guessed. */
  missing: string[];
}

export interface HarRead {
  exchanges: HttpExchange[];
  /** Entries without a request method or URL: counted, not kept (there is nothing to replay). */
  unusable: number;
  /** Why the file ended early (cut short, damaged), with the byte offset; the complete entries before it are kept. */
  fault: string | null;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: Json | undefined): value is { [key: string]: Json } => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: Json | undefined): string | null => (typeof value === 'string' ? value : null);

/**
 * Reads a HAR 1.2 file (as browsers and proxies export them). A file cut short or damaged inside its entries keeps
 * every complete entry before the fault and says where it is; a file that is not HAR at all is refused in one line.
 */
export function readHar(file: string, bytes: Uint8Array): HarRead {
  const source = new TextDecoder().decode(bytes);
  let entries: Json[];
  let fault: string | null = null;
  try {
    const root = JSON.parse(source) as Json;
    const log = isObject(root) ? root.log : undefined;
    if (!isObject(log) || !Array.isArray(log.entries)) throw new CaptureFormatError(`${file}: not a HAR file (no log.entries)`, { file, byteOffset: 0 });
    entries = log.entries;
  } catch (error) {
    if (error instanceof CaptureFormatError) throw error;
    const salvaged = salvageEntries(source);
    if (salvaged === null) throw new CaptureFormatError(`${file}: not a HAR file (${(error as Error).message})`, { file, byteOffset: 0 });
    entries = salvaged.entries;
    fault = `${file}: cut short or damaged at byte offset ${salvaged.endOffset}: kept the ${salvaged.entries.length} complete entries before it`;
  }
  const read: HarRead = { exchanges: [], unusable: 0, fault };
  for (const entry of entries) {
    const exchange = isObject(entry) ? toExchange(entry) : null;
    if (exchange === null) read.unusable++;
    else read.exchanges.push(exchange);
  }
  return read;
}

function toExchange(entry: { [key: string]: Json }): HttpExchange | null {
  const request = entry.request;
  const method = isObject(request) ? text(request.method) : null;
  const url = isObject(request) ? text(request.url) : null;
  if (!isObject(request) || method === null || url === null) return null;
  const missing: string[] = [];
  const started = text(entry.startedDateTime);
  const tsNs = started === null ? null : isoToNs(started);
  if (tsNs === null) missing.push('startedDateTime');
  const requestBody = bodyOf(request.postData, request.bodySize, missing, 'request body');
  const response = entry.response;
  const status = isObject(response) && typeof response.status === 'number' && response.status > 0 ? response.status : null;
  if (status === null) missing.push('response');
  const responseBody = status === null || !isObject(response) ? null : bodyOf(response.content, undefined, missing, 'response body');
  return {
    tsNs: tsNs ?? 0n,
    method,
    url,
    httpVersion: text(request.httpVersion),
    requestHeaders: headersOf(request.headers),
    requestBody,
    status,
    responseHeaders: isObject(response) ? headersOf(response.headers) : [],
    responseBody,
    durationMs: typeof entry.time === 'number' && entry.time >= 0 ? entry.time : null,
    missing,
  };
}

function headersOf(value: Json | undefined): [string, string][] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).map((h) => [text(h.name) ?? '', text(h.value) ?? ''] as [string, string]).filter(([name]) => name !== '');
}

/**
 * A body's bytes (HAR `text`, base64 when `encoding` says so). A request with no `postData` sent none unless its
 * `bodySize` says otherwise; a body the file declares but did not record is null, and noted.
 */
function bodyOf(value: Json | undefined, declaredBytes: Json | undefined, missing: string[], what: string): Uint8Array | null {
  const body = isObject(value) ? text(value.text) : null;
  if (body !== null) return isObject(value) && value.encoding === 'base64' ? new Uint8Array(Buffer.from(body, 'base64')) : new TextEncoder().encode(body);
  const declared = typeof declaredBytes === 'number' ? declaredBytes : isObject(value) && typeof value.size === 'number' ? value.size : 0;
  if (declared > 0 || (what === 'response body' && !isObject(value))) {
    missing.push(what);
    return null;
  }
  return new Uint8Array(0);
}

/** ISO 8601 with up to nanosecond fractions, as ns since the epoch; null when it is not a date the store can hold. */
function isoToNs(iso: string): bigint | null {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return null;
  const fraction = /\.(\d+)/.exec(iso)?.[1] ?? '';
  const subMs = fraction.length > 3 ? BigInt(fraction.slice(3, 9).padEnd(6, '0')) : 0n;
  const ns = BigInt(ms) * 1_000_000n + subMs;
  return isStorableNs(ns) ? ns : null;
}

/**
 * The complete objects of the `entries` array of a HAR file that is cut short or damaged: each is found by matching
 * braces outside strings, and parsed alone. Null when the file has no entries array at all.
 */
function salvageEntries(source: string): { entries: Json[]; endOffset: number } | null {
  const key = /"entries"\s*:\s*\[/.exec(source);
  if (key === null) return null;
  const entries: Json[] = [];
  let at = key.index + key[0].length;
  let endOffset = at;
  for (;;) {
    while (at < source.length && /[\s,]/.test(source[at] as string)) at++;
    if (source[at] !== '{') break;
    const end = objectEnd(source, at);
    if (end === null) break;
    try {
      entries.push(JSON.parse(source.slice(at, end)) as Json);
    } catch {
      break;
    }
    at = end;
    endOffset = Buffer.byteLength(source.slice(0, end));
  }
  return { entries, endOffset };
}

/** Where the JSON object starting at `start` ends (one past its closing brace), or null if the text ends first. */
function objectEnd(source: string, start: number): number | null {
  let depth = 0;
  let inString = false;
  for (let i = start; i < source.length; i++) {
    const c = source[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return null;
}
