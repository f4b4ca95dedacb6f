/**
 * Every error the harness raises on purpose is a `ParityError` with a stable `code`. The CLI maps the code to an exit
 * status and prints `message` as one line; tests assert the class and the code, never the wording.
 */

/** Exit status for bad usage or bad input (a flag, a file, a config): the verdict's exit codes are 0 and 1. */
export const EXIT_BAD_INPUT = 2;

/** Exit status for a fault of the harness itself or of its environment (a socket, the store). */
export const EXIT_FAILURE = 1;

export interface ParityErrorContext {
  readonly file?: string;
  readonly byteOffset?: number;
  readonly field?: string;
  readonly line?: number;
  readonly route?: number;
}

export abstract class ParityError extends Error {
  abstract readonly code: string;
  readonly exitCode: number = EXIT_BAD_INPUT;
  readonly context: ParityErrorContext;

  constructor(message: string, context: ParityErrorContext = {}, options?: { cause?: unknown }) {
    // One line whatever it quotes: a parser's message can carry the file's own lines (JSON.parse's does since Node 20),
    // and a fuzzed routes.json, HAR or capture made several-line errors of it where each writer had to remember.
    super(message.replace(/\s*[\r\n]+\s*/g, ' '), options);
    this.context = context;
    this.name = new.target.name;
  }
}

/** A flag or argument the user gave cannot be used. */
export class UsageError extends ParityError {
  readonly code = 'PARITY_ERR_USAGE';
}

/** A capture file cannot be opened or read. */
export class CaptureFileError extends ParityError {
  readonly code = 'PARITY_ERR_CAPTURE_FILE';
}

/** The bytes are not a pcap or pcapng capture, or a header in it is impossible. */
export class CaptureFormatError extends ParityError {
  readonly code = 'PARITY_ERR_CAPTURE_FORMAT';
}

/** The file ends in the middle of a record: everything before `byteOffset` was read. */
export class CaptureTruncatedError extends ParityError {
  readonly code = 'PARITY_ERR_CAPTURE_TRUNCATED';
}

/** A capture or run named on the command line is not in the store, or already is. */
export class StoreLookupError extends ParityError {
  readonly code = 'PARITY_ERR_STORE_LOOKUP';
}

/** The DuckDB file cannot be opened or written. */
export class StoreError extends ParityError {
  readonly code: string = 'PARITY_ERR_STORE';
  override readonly exitCode = EXIT_FAILURE;
}

/** Another process holds the store: DuckDB lets one process open a file at a time. */
export class StoreLockedError extends StoreError {
  override readonly code = 'PARITY_ERR_STORE_LOCKED';
}

/** A configuration file (routes, scenario, thresholds, topology) is invalid. */
export class ConfigError extends ParityError {
  readonly code = 'PARITY_ERR_CONFIG';
}

/** The relay's routes or config are invalid: the dual-mirroring spec says exit 1 for these. */
export class RelayConfigError extends ParityError {
  readonly code = 'PARITY_ERR_RELAY_CONFIG';
  override readonly exitCode = EXIT_FAILURE;
}

/** The network refused what the harness asked of it: a bind, a send, a missing privilege. */
export class NetworkError extends ParityError {
  readonly code = 'PARITY_ERR_NETWORK';
  override readonly exitCode = EXIT_FAILURE;
}

/** A subprocess the harness depends on (tcpdump, a relay under test) is missing or failed. */
export class SubprocessError extends ParityError {
  readonly code = 'PARITY_ERR_SUBPROCESS';
  override readonly exitCode = EXIT_FAILURE;
}

export function isParityError(error: unknown): error is ParityError {
  return error instanceof ParityError;
}

/**
 * What to do about a machine that ran out of something, from DuckDB's or Node's words: a full disk and DuckDB's memory
 * limit reach us as their errors from any statement, and read as a bug where the machine is what ran out.
 */
export function exhaustionHint(message: string): string | undefined {
  if (/No space left on device|ENOSPC/.test(message)) return 'the disk is full: free space where the store and its .spill folder are, or give --db a file on another disk';
  if (/Out of Memory Error/.test(message)) return 'DuckDB ran out of the memory it may use: raise PARITY_MEMORY_LIMIT (e.g. PARITY_MEMORY_LIMIT=8GB), or leave its .spill folder room on disk';
  return undefined;
}

/**
 * An error's message in one line, with what to do when the machine ran out of something. DuckDB follows some messages
 * with a paragraph of advice, dropped here; a database it invalidated after a fatal error names the cause only on a
 * later line ("Original error: ..."), kept here, since that cause (a full disk) is what the reader must act on.
 */
export function errorLine(error: unknown): string {
  const whole = error instanceof Error ? error.message : String(error);
  const lines = whole.split('\n');
  const first = lines[0] ?? whole;
  const original = lines.find((line) => line.startsWith('Original error: '));
  const line = original === undefined ? first : `${first} (${original.replace(/^Original error: /, 'original error: ')})`;
  const hint = exhaustionHint(line);
  return hint === undefined ? line : `${line}; ${hint}`;
}

/** The one line the CLI prints for an error: ours verbatim, anything else as `errorLine` has it, and no stack. */
export function describeError(error: unknown): string {
  if (isParityError(error)) return error.message;
  const line = errorLine(error);
  return exhaustionHint(line) === undefined ? `unexpected error: ${line}` : line;
}
