import { UsageError } from '../core/errors.ts';
import { parseIpv4Block } from '../core/ip-address.ts';
import { parseDurationMs, parseFraction, ValueError } from '../core/values.ts';
import { ANSWER_TIMEOUT_MS } from '../replay/answer-timeout.js';
import type { Pace } from '../replay/replay-plan.ts';
import type { SenderCpuChoice } from '../replay/replay-types.ts';

/**
 * A replay as asked for, by `parity replay`'s flags or a scenario's `replay:` section: one shape, one table of
 * defaults, one validator per field, so the same words mean the same replay wherever they are written.
 */
export interface ReplayRequest {
  pace: Pace;
  loops: number;
  durationMs: number | undefined;
  sample: number;
  seed: number;
  ackTimeoutMs: number;
  /** An HTTP or Postgres replay: how long each request may wait for its answer before it is recorded as unanswered. */
  answerTimeoutMs: number;
  devices: string;
  /** How long the run waits for late answers after the last send; chosen from what was seen when absent. */
  drainMs: number | undefined;
  /** A UDP replay's sending thread: on a CPU of its own (a number), as the replay's pace asks (`auto`), or sharing. */
  senderCpu: SenderCpuChoice;
}

/** The fields of a request by their scenario key; a flag is the key with a dash (`ack_timeout` is `--ack-timeout`). */
export const REPLAY_FIELDS = ['speed', 'rate', 'ramp', 'loop', 'duration', 'sample', 'seed', 'ack_timeout', 'answer_timeout', 'devices', 'drain', 'sender_cpu'] as const;
export type ReplayField = (typeof REPLAY_FIELDS)[number];

/** What a request that leaves a field out gets, as written by a user; `--help` and the README show these. */
export const REPLAY_DEFAULTS = { speed: '1x', loop: '1', sample: '100%', seed: '1', ack_timeout: '2s', answer_timeout: `${ANSWER_TIMEOUT_MS / 1000}s`, devices: '127.20.0.0/16', sender_cpu: 'auto' } as const satisfies Partial<Record<ReplayField, string>>;

/** Values as given: text from a command line, text or numbers from YAML. */
export type RawReplay = Partial<Record<ReplayField, string | number | boolean | undefined>>;

export const flagOf = (field: ReplayField): string => `--${field.replace('_', '-')}`;

/** A field's fault as the command line reports it: the flag, then what is wrong with its value. */
export const flagError = (field: ReplayField, problem: string): UsageError => new UsageError(`${flagOf(field)}: ${problem}`, { field });

const MAX_WAIT_MS = 600_000;

/**
 * Reads a request; `fail` turns a field's fault into the error its reader raises (naming the flag, or the key and its
 * line). Every number is range-checked.
 */
export function readReplayRequest(raw: RawReplay, fail: (field: ReplayField, problem: string) => Error): ReplayRequest {
  const read = <F extends ReplayField>(field: F): FieldValue<F> | undefined => {
    const value = raw[field] ?? (REPLAY_DEFAULTS as Partial<Record<ReplayField, string>>)[field];
    return value === undefined ? undefined : readReplayField(field, value, fail);
  };
  const paces = (['speed', 'rate', 'ramp'] as const).filter((field) => raw[field] !== undefined);
  if (paces.length > 1) throw fail(paces[1] as ReplayField, `cannot be given with ${paces[0] as string}: give one of speed, rate and ramp`);
  return {
    pace: read(paces[0] ?? 'speed') as Pace,
    loops: read('loop') as number,
    durationMs: read('duration'),
    sample: read('sample') as number,
    seed: read('seed') as number,
    ackTimeoutMs: read('ack_timeout') as number,
    answerTimeoutMs: read('answer_timeout') as number,
    devices: read('devices') as string,
    drainMs: read('drain'),
    senderCpu: read('sender_cpu') as SenderCpuChoice,
  };
}

/** One field, checked as every reader checks it (`parity run --drain` overrides a scenario's `replay.drain` with it). */
export function readReplayField<F extends ReplayField>(field: F, value: string | number | boolean, fail: (field: ReplayField, problem: string) => Error): FieldValue<F> {
  try {
    return FIELD_READERS[field](String(value)) as FieldValue<F>;
  } catch (error) {
    if (error instanceof ValueError) throw fail(field, error.message);
    throw error;
  }
}

/** `1x`, `10x`, `0.5x`, `max`. */
export function parseSpeed(value: string): Pace {
  if (value === 'max') return { kind: 'max' };
  const match = /^(\d+(?:\.\d+)?)x?$/.exec(value.trim());
  const speed = match === null ? Number.NaN : Number(match[1]);
  if (!(speed > 0)) throw new ValueError(`"${value}" is not a speed: use e.g. 1x, 10x, 0.5x or max`);
  return { kind: 'original', speed };
}

/** `5000pps`, `5k`, `5000` -> packets per second. */
export function parseRatePps(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(k|m)?\s*(pps)?$/i.exec(value.trim());
  const multiplier = match?.[2]?.toLowerCase() === 'k' ? 1e3 : match?.[2]?.toLowerCase() === 'm' ? 1e6 : 1;
  const rate = match === null ? Number.NaN : Number(match[1]) * multiplier;
  if (!(rate > 0)) throw new ValueError(`"${value}" is not a packet rate: use e.g. 5000pps or 5k`);
  return rate;
}

/** `100pps..20000pps/60s`. */
export function parseRamp(value: string): Pace {
  const match = /^(.+?)\.\.(.+?)\/(.+)$/.exec(value.trim());
  if (match === null) throw new ValueError(`"${value}" is not FROM..TO/DURATION, e.g. 100pps..20000pps/60s`);
  const overMs = parseDurationMs(match[3] as string);
  if (!(overMs > 0)) throw new ValueError(`"${value}": the duration must be more than zero`);
  return { kind: 'ramp', fromPps: parseRatePps(match[1] as string), toPps: parseRatePps(match[2] as string), overMs };
}

/** The validators, one per field: every reader of a request goes through these. */
const FIELD_READERS = {
  speed: (text: string): Pace => parseSpeed(text),
  rate: (text: string): Pace => ({ kind: 'rate', ratePps: parseRatePps(text) }),
  ramp: (text: string): Pace => parseRamp(text),
  loop: (text: string): number => wholeIn(1, 1_000_000)(text),
  duration: (text: string): number => durationIn(1, Number.MAX_SAFE_INTEGER)(text),
  sample: (text: string): number => shareAboveZero(text),
  seed: (text: string): number => wholeIn(0, 2 ** 32 - 1)(text),
  ack_timeout: (text: string): number => durationIn(1, MAX_WAIT_MS)(text),
  answer_timeout: (text: string): number => durationIn(1, MAX_WAIT_MS)(text),
  devices: (text: string): string => ipv4Block(text),
  drain: (text: string): number => durationIn(0, MAX_WAIT_MS)(text),
  sender_cpu: (text: string): SenderCpuChoice => senderCpu(text),
} satisfies Record<ReplayField, (text: string) => unknown>;

type FieldValue<F extends ReplayField> = ReturnType<(typeof FIELD_READERS)[F]>;

function wholeIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) throw new ValueError(`"${text}" is not a whole number from ${min} to ${max}`);
    return value;
  };
}

function durationIn(minMs: number, maxMs: number): (text: string) => number {
  return (text) => {
    const ms = parseDurationMs(text);
    if (ms < minMs || ms > maxMs) throw new ValueError(`"${text}" is out of range: ${minMs === 0 ? 'from 0' : 'more than 0'}${maxMs < Number.MAX_SAFE_INTEGER ? ` up to ${maxMs / 60_000} min` : ''}`);
    return ms;
  };
}

/** `auto`, `none`, or a CPU's number. */
function senderCpu(text: string): SenderCpuChoice {
  const word = text.trim();
  if (word === 'auto' || word === 'none') return word;
  const cpu = Number(word);
  if (word === '' || !Number.isInteger(cpu) || cpu < 0 || cpu > 4095) throw new ValueError(`"${text}" is not auto, none or a CPU's number from 0 to 4095`);
  return cpu;
}

/** A share of devices: replaying none of them would prove nothing. */
function shareAboveZero(text: string): number {
  const share = parseFraction(text);
  if (share === 0) throw new ValueError(`"${text}" replays no device: give a share above 0%`);
  return share;
}

/** The devices' local addresses: an IPv4 block of /8 to /32. */
function ipv4Block(text: string): string {
  if (parseIpv4Block(text) === undefined) throw new ValueError(`"${text}" is not an IPv4 block such as 127.20.0.0/16`);
  return text;
}
