import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';
import type { ScenarioResult } from '../helpers/full-send-buffer.ts';
import { loopbackAt, namespaceUsable, runInNamespace } from '../helpers/network-namespace.ts';

// In a namespace whose loopback holds what is sent behind a token bucket (20 Mbit/s), a socket's send buffer fills
// and the kernel answers EAGAIN, as on a NIC slower than the relay's bursts; plain loopback never does
// (network-namespace.ts).
const LOOPBACK = loopbackAt('20mbit');
const SCENARIOS = fileURLToPath(new URL('../helpers/full-send-buffer.ts', import.meta.url));
const usable = namespaceUsable(LOOPBACK, 'a send buffer that fills');
const paths = loadUdpIo() === undefined ? ['dgram'] : ['native', 'dgram'];

function runScenarios(path: string): Map<string, ScenarioResult> {
  const { results } = runInNamespace<{ results: ScenarioResult[] }>(LOOPBACK, SCENARIOS, [path]);
  return new Map(results.map((result) => [result.scenario, result]));
}

const upTo = (count: number): number[] => Array.from({ length: count }, (_, i) => i);
const increasing = (values: readonly number[]): boolean => values.every((value, i) => i === 0 || value > (values[i - 1] as number));

describe.skipIf(!usable).each(paths)('a send buffer that fills (EAGAIN), on the %s datagram path', (path) => {
  let results = new Map<string, ScenarioResult>();
  beforeAll(() => {
    results = runScenarios(path);
  }, 150_000);
  const scenario = (name: string): ScenarioResult => {
    const result = results.get(name);
    if (result === undefined) throw new Error(`no result for "${name}"`);
    return result;
  };

  it.each(['connected sends', 'grouped sends in runs'])('%s: a burst several times the buffer waits and then leaves whole, in order, each send settled once', (name) => {
    const result = scenario(name);
    // It did meet a full buffer: otherwise this test proves nothing about waiting.
    expect(result.mostWaiting).toBeGreaterThan(0);
    expect(result.delivered).toEqual(upTo(result.sent));
    expect(result.settled).toEqual(upTo(result.sent));
    expect(result.settledWithError).toBe(0);
    expect(result.corrupt).toBe(0);
    expect(result.socketErrors).toEqual([]);
  });

  it('a grouped socket still reads once the sends that waited for room have left', () => {
    expect(scenario('grouped sends in runs').answerReached).toBe(true);
  });

  it("a listener's replies made while requests are handed out (held, then sent in runs) wait when the buffer is full, and reach the device whole and in order", () => {
    const result = scenario('replies to a device');
    expect(result.waitingAfterHandOut).toBeGreaterThan(0);
    expect(result.delivered).toEqual(upTo(result.sent));
    expect(result.corrupt).toBe(0);
    expect(result.socketErrors).toEqual([]);
  });

  it.each(['closed with sends waiting', 'closed before it connected'])('%s: every send gets one outcome; those that left arrive, in order, and the rest fail', (name) => {
    const result = scenario(name);
    // Each once; one refused at once (more than the socket may hold waiting) is settled before those waiting ahead.
    expect([...result.settled].sort((a, b) => a - b)).toEqual(upTo(result.sent));
    expect(result.settledWithError).toBeGreaterThan(0);
    // What the kernel took before the close is delivered: the first sends, none after a failed one.
    expect(result.delivered).toEqual(upTo(result.sent - result.settledWithError));
    expect(result.corrupt).toBe(0);
  });

  it('more than the kernel and the socket hold: the socket keeps at most its buffer size waiting, the rest fail with ENOBUFS, and what was taken arrives in order', () => {
    const result = scenario('more than the buffers hold');
    expect(result.mostWaiting).toBeGreaterThan(0);
    expect(result.mostWaiting).toBeLessThanOrEqual(result.waitLimit);
    // A refused send is settled at once, before those waiting ahead of it: each once, in any order.
    expect([...result.settled].sort((a, b) => a - b)).toEqual(upTo(result.sent));
    expect(result.failureCodes).toEqual(['ENOBUFS']);
    expect(result.failed.length).toBeGreaterThan(0);
    const taken = upTo(result.sent).filter((seq) => !result.failed.includes(seq));
    expect(result.delivered).toEqual(taken);
    expect(result.corrupt).toBe(0);
  });

  it("more replies than a listener's buffers hold: each refused one is reported (ENOBUFS), the others reach the device in order", () => {
    const result = scenario('more replies than the buffers hold');
    expect(result.waitingAfterHandOut).toBeGreaterThan(0);
    expect(result.waitingAfterHandOut).toBeLessThanOrEqual(result.waitLimit);
    expect(result.failureCodes).toEqual(['ENOBUFS']);
    expect(result.delivered.length + result.socketErrors.length).toBe(result.sent);
    expect(result.delivered.length).toBeGreaterThan(0);
    expect(increasing(result.delivered)).toBe(true);
    expect(result.corrupt).toBe(0);
  });
});
