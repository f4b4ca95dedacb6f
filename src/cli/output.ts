import Table from 'cli-table3';

/** Prints rows as a terminal table. */
export function printTable(head: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const table = new Table({ head: [...head], style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map((cell) => String(cell)));
  process.stdout.write(`${table.toString()}\n`);
}

/** Prints a value as JSON (bigint as a decimal number), for `--json` on every listing command. */
export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

export function toJson(value: unknown): string {
  // BigInt nanosecond times are exact in JSON as long as they are written as digits, not strings.
  const marked = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `__bigint__${item}` : item), 2);
  return marked.replace(/"__bigint__(-?\d+)"/g, '$1');
}

/** One line on stderr. */
export function printError(message: string): void {
  process.stderr.write(`parity: ${message}\n`);
}

export function printNote(message: string): void {
  process.stderr.write(`${message}\n`);
}
