import { writeFileSync } from 'node:fs';
import { seededRandom } from '../core/random.ts';

export interface PgWorkloadOptions {
  sessions: number;
  /** Statements per session. */
  statements: number;
  /** Mean gap between a session's statements (ms). */
  gapMs: number;
  seed: number;
}

/** The table the generated workload uses: what a scenario's `schema:` creates on both databases. */
export const PG_WORKLOAD_SCHEMA = 'CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, cents int NOT NULL, status text NOT NULL DEFAULT \'new\')';

const csv = (value: string | null): string => (value === null || value === '' ? '' : `"${value.replace(/"/g, '""')}"`);

/**
 * Writes a billing service's traffic as PostgreSQL's csvlog would log it with every statement logged (so it imports
 * like a real server's log): each session a customer of its own inserting orders, reading them back in order,
 * updating them, totalling them, asking for big orders without an ORDER BY (whose row order nothing promises) and
 * reading an order back with the time it was read (which no two databases answer alike), some of it in transactions. Deterministic for a seed.
 */
export function writePgWorkloadLog(file: string, options: PgWorkloadOptions): void {
  const random = seededRandom(options.seed);
  const lines: string[] = [];
  const start = Date.UTC(2026, 0, 5, 9, 0, 0);
  for (let session = 0; session < options.sessions; session++) {
    const customer = `cust-${session}`;
    const sessionId = `6b0a${(0x1000 + session).toString(16)}.${(0x2000 + session).toString(16)}`;
    const from = `10.20.${Math.floor(session / 250)}.${(session % 250) + 1}:${40_000 + session}`;
    let atMs = start + session * 3;
    let line = 0;
    const ids: number[] = [];
    const log = (message: string, detail: string | null): void => {
      const time = new Date(atMs).toISOString().replace('T', ' ').replace('Z', ' UTC');
      lines.push([time, csv('postgres'), csv('postgres'), String(30_000 + session), csv(from), sessionId, String(++line), csv('idle'), csv(new Date(start).toISOString().replace('T', ' ').replace('Z', ' UTC')), `${session}/${line}`, '0', 'LOG', '00000', csv(message), csv(detail), '', '', '', '', '', '', '', csv('billing'), csv('client backend'), '', '0'].join(','));
      atMs += Math.max(1, Math.round(options.gapMs * (0.5 + random())));
    };
    const execute = (text: string, params: (string | number)[]): void => log(`execute <unnamed>: ${text}`, `parameters: ${params.map((p, i) => `$${i + 1} = '${String(p).replace(/'/g, "''")}'`).join(', ')}`);
    for (let i = 0; i < options.statements; i++) {
      const kind = i < 2 ? 0 : Math.floor(random() * 7);
      if (kind <= 1 || ids.length === 0) {
        const id = session * 1_000_000 + i;
        ids.push(id);
        execute('INSERT INTO orders (id, customer, cents) VALUES ($1, $2, $3)', [id, customer, 100 + Math.floor(random() * 9900)]);
      } else if (kind === 2) execute('SELECT id, cents, status FROM orders WHERE customer = $1 ORDER BY id', [customer]);
      else if (kind === 3) {
        const inTransaction = random() < 0.3;
        if (inTransaction) log('statement: BEGIN', null);
        execute('UPDATE orders SET cents = cents + $1 WHERE id = $2', [Math.floor(random() * 50), ids[Math.floor(random() * ids.length)] ?? 0]);
        if (inTransaction) log('statement: COMMIT', null);
      } else if (kind === 4) execute('SELECT count(*), sum(cents) FROM orders WHERE customer = $1', [customer]);
      else if (kind === 5) execute('SELECT id FROM orders WHERE customer = $1 AND cents > $2', [customer, 2000 + Math.floor(random() * 4000)]);
      // Read back with the time it was read: different on every database, every time (what an A/A run learns as noise).
      else execute('SELECT id, cents, clock_timestamp() AS read_at FROM orders WHERE id = $1', [ids[Math.floor(random() * ids.length)] ?? 0]);
    }
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}
