import fc from 'fast-check';

/**
 * Mutations of a text file for the fuzz tests of readers of text formats (HAR, frame recordings, csvlogs, YAML and
 * JSON configuration): bytes flipped, the file cut, text inserted, and a value replaced whole by one that readers
 * are least ready for where a number, a date, a string or an address belongs.
 */
export const ODD_VALUES = [
  '9999999999999999999999', '-1', '1e308', 'null', '""', '"3000-01-01T00:00:00Z"', '"-271821-04-20T00:00:00Z"', '[]', '{}', '"\\u0000"', 'true', 'NaN',
  '.nan', '.inf', '0', '1e20', '"', '&a', '*a', '~', '0x10', '1.5', '-0', '[1,2]', '{a: 1}', '255.255.255.256',
];

export type TextMutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'value'; at: number; text: string };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...ODD_VALUES), fc.string({ maxLength: 8 })) }),
  // The value after the next ':' (JSON, YAML) or the field after the next ',' (CSV, flow lists), replaced whole.
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), text: fc.constantFrom(...ODD_VALUES) }),
);

export function mutateText(text: string, mutations: readonly TextMutation[]): Buffer {
  let out = Buffer.from(text);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip') out[at] = m.value;
    else if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(m.text), out.subarray(at)]);
    else {
      const s = out.toString('latin1');
      const start = s.slice(at).search(/[:,]/);
      if (start < 0) continue;
      const valueAt = at + start + 1;
      const length = s.slice(valueAt).search(/[,}\]\n]/);
      if (length < 0) continue;
      out = Buffer.from(s.slice(0, valueAt) + m.text + s.slice(valueAt + length), 'latin1');
    }
  }
  return out;
}
