import { writeFileSync } from 'node:fs';
import { seededRandom } from '../core/random.ts';

/** What a generated billing API's traffic looks like. */
export interface HttpTrafficSpec {
  requests: number;
  /** Mean gap between requests (exponential gaps, as independent clients make). */
  meanGapMs: number;
  seed: number;
}

const TENANTS = ['north', 'south', 'east', 'west'];
const START = Date.parse('2026-11-28T08:00:00.000Z');

/**
 * Writes a HAR 1.2 file of a billing API's traffic: invoices created (POST with a JSON body of lines), amended (PUT),
 * read (GET, no body) and listed, from several tenants with their own credentials: what a team shadowing a billing
 * service before a cutover replays. The same seed gives the same file.
 */
export function writeHttpTraffic(file: string, spec: HttpTrafficSpec): void {
  const random = seededRandom(spec.seed);
  const entries: object[] = [];
  let at = START;
  for (let i = 0; i < spec.requests; i++) {
    at += -Math.log(1 - random()) * spec.meanGapMs;
    const tenant = TENANTS[Math.floor(random() * TENANTS.length)] as string;
    const pick = random();
    const invoice = 1000 + Math.floor(random() * 500);
    const lines = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, n) => ({ sku: `SKU-${(invoice * 7 + n) % 97}`, quantity: 1 + Math.floor(random() * 5), cents: 100 + Math.floor(random() * 9900) }));
    const [method, path, body] =
      pick < 0.45
        ? ['POST', '/v1/invoices', JSON.stringify({ customer: `${tenant}-${invoice % 50}`, currency: 'EUR', lines })]
        : pick < 0.65
          ? ['PUT', `/v1/invoices/${invoice}`, JSON.stringify({ lines, note: `amended ${i}` })]
          : pick < 0.9
            ? ['GET', `/v1/invoices/${invoice}`, null]
            : ['GET', `/v1/invoices?tenant=${tenant}&page=${1 + (invoice % 3)}`, null];
    entries.push(entry(new Date(at).toISOString(), method, path, body, tenant));
  }
  writeFileSync(file, JSON.stringify({ log: { version: '1.2', creator: { name: 'relay-parity synthetic billing traffic', version: '1' }, entries } }));
}

function entry(startedDateTime: string, method: string, path: string, body: string | null, tenant: string): object {
  return {
    startedDateTime,
    time: 4,
    request: {
      method,
      url: `https://billing.example${path}`,
      httpVersion: 'HTTP/1.1',
      headers: [
        { name: 'Host', value: 'billing.example' },
        { name: 'Authorization', value: `Bearer tenant-${tenant}-token` },
        { name: 'X-Tenant', value: tenant },
        { name: 'Accept', value: 'application/json' },
        ...(body === null ? [] : [{ name: 'Content-Type', value: 'application/json' }]),
      ],
      queryString: [],
      ...(body !== null && { postData: { mimeType: 'application/json', text: body } }),
      headersSize: -1,
      bodySize: body === null ? 0 : Buffer.byteLength(body),
    },
    response: { status: 200, statusText: 'OK', httpVersion: 'HTTP/1.1', headers: [], content: { size: 0, mimeType: 'application/json' }, redirectURL: '', headersSize: -1, bodySize: -1 },
    cache: {},
    timings: { send: 0, wait: 4, receive: 0 },
  };
}
