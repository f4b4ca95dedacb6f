/**
 * Field-by-field comparison of two backends' answers to the same requests, with noise cancellation learned from an
 * A/A run the way Diffy does it: a field that differs between two copies of the same version (timestamps, ids) is
 * noise, and only a difference rate clearly above that noise is a difference.
 */

/** What a field's difference rate must exceed its A/A noise by, relatively and absolutely, to count (issue 17). */
export const NOISE_RELATIVE_MARGIN = 0.2;
export const NOISE_ABSOLUTE_MARGIN = 0.0003;
/** The field name a body that is not JSON is compared under, as a whole. */
export const WHOLE_BODY = '(body)';

export interface ResponseFieldParity {
  backend: string;
  /** A JSON path: `total`, `lines[].amount`; `(body)` for a body that is not JSON. */
  field: string;
  compared: number;
  differing: number;
  /** Its differing share between two copies of the same version; null without an A/A run. */
  noiseRate: number | null;
  /** A difference beyond its noise (and not ignored by the thresholds' list): judged. */
  counted: boolean;
  /** Why it is not counted though it differs: noise, or named in ignore_ack_fields. */
  excused: 'noise' | 'ignored' | null;
  example: { reference: string; other: string } | null;
}

export interface AnswerPair {
  backend: string;
  reference: Uint8Array | null;
  other: Uint8Array | null;
}

/** Every leaf of a JSON value under its path; array elements share their array's path (`items[]`). */
export function flattenJson(value: unknown, path = '', out = new Map<string, string[]>()): Map<string, string[]> {
  if (Array.isArray(value)) {
    if (value.length === 0) push(out, path, '[]');
    for (const item of value) flattenJson(item, `${path}[]`, out);
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) push(out, path, '{}');
    for (const [key, item] of entries) flattenJson(item, path === '' ? key : `${path}.${key}`, out);
  } else {
    push(out, path === '' ? '(value)' : path, JSON.stringify(value));
  }
  return out;
}

function push(out: Map<string, string[]>, path: string, value: string): void {
  const values = out.get(path);
  if (values === undefined) out.set(path, [value]);
  else values.push(value);
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A body's fields: its JSON leaves, or the whole body when it is not JSON. */
function fieldsOf(body: Uint8Array | null): Map<string, string[]> {
  const text = body === null ? '' : decoder.decode(body);
  try {
    return flattenJson(JSON.parse(text) as unknown);
  } catch {
    return new Map([[WHOLE_BODY, [text]]]);
  }
}

const isEmptyValue = (value: string): boolean => value === 'null' || value === '(absent)' || value === '""';

/** Per backend and field: how many pairs had it on either side, and how many differed, with the first example. */
export interface FieldTally {
  compared: number;
  differing: number;
  example: { reference: string; other: string } | null;
}

export interface ComparedAnswers {
  tallies: Map<string, Map<string, FieldTally>>;
  /** For each pair with a difference, its backend and differing fields: to count pairs once the noise is known. */
  differingPairs: { backend: string; fields: string[] }[];
}

/** Compares each pair's answers field by field. */
export function compareAnswers(pairs: Iterable<AnswerPair>): ComparedAnswers {
  const tallies = new Map<string, Map<string, FieldTally>>();
  const differingPairs: ComparedAnswers['differingPairs'] = [];
  for (const pair of pairs) {
    const byField = tallies.get(pair.backend) ?? new Map<string, FieldTally>();
    tallies.set(pair.backend, byField);
    const reference = fieldsOf(pair.reference);
    const other = fieldsOf(pair.other);
    const differing: string[] = [];
    for (const field of new Set([...reference.keys(), ...other.keys()])) {
      const a = (reference.get(field) ?? ['(absent)']).join(', ');
      const b = (other.get(field) ?? ['(absent)']).join(', ');
      const tally = byField.get(field) ?? { compared: 0, differing: 0, example: null };
      byField.set(field, tally);
      tally.compared++;
      if (a === b) continue;
      tally.differing++;
      // The first example where live said something: "null against 0" explains less than "1200 against 0".
      if (tally.example === null || (isEmptyValue(tally.example.reference) && !isEmptyValue(a))) tally.example = { reference: a, other: b };
      differing.push(field);
    }
    if (differing.length > 0) differingPairs.push({ backend: pair.backend, fields: differing });
  }
  return { tallies, differingPairs };
}

/**
 * Each field's verdict: with an A/A run, a field counts only when its rate exceeds its noise by both margins; without
 * one, every difference counts (nothing was learned to excuse it). Fields named in `ignored` never count.
 */
export function judgeFields(compared: ComparedAnswers, noise: ReadonlyMap<string, number> | null, ignored: readonly string[]): ResponseFieldParity[] {
  const fields: ResponseFieldParity[] = [];
  for (const [backend, byField] of compared.tallies) {
    for (const [field, tally] of byField) {
      const rate = tally.compared === 0 ? 0 : tally.differing / tally.compared;
      const noiseRate = noise === null ? null : (noise.get(field) ?? 0);
      const beyondNoise = noiseRate === null || (rate > noiseRate * (1 + NOISE_RELATIVE_MARGIN) && rate - noiseRate > NOISE_ABSOLUTE_MARGIN);
      const isIgnored = ignored.includes(field);
      const counted = tally.differing > 0 && beyondNoise && !isIgnored;
      const excused = tally.differing === 0 || counted ? null : isIgnored ? 'ignored' : 'noise';
      fields.push({ backend, field, compared: tally.compared, differing: tally.differing, noiseRate, counted, excused, example: tally.example });
    }
  }
  return fields.sort((a, b) => a.backend.localeCompare(b.backend) || b.differing - a.differing || a.field.localeCompare(b.field));
}

/** Pairs with at least one counted field, per backend. */
export function countDifferingPairs(compared: ComparedAnswers, fields: readonly ResponseFieldParity[]): Map<string, number> {
  const counted = new Set(fields.filter((f) => f.counted).map((f) => `${f.backend}|${f.field}`));
  const pairs = new Map<string, number>();
  for (const pair of compared.differingPairs) {
    if (pair.fields.some((field) => counted.has(`${pair.backend}|${field}`))) pairs.set(pair.backend, (pairs.get(pair.backend) ?? 0) + 1);
  }
  return pairs;
}
