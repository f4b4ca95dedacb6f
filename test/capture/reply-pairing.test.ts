import { describe, expect, it } from 'vitest';
import { ReplyPairing } from '../../src/capture/record/record-targets.ts';

describe('ReplyPairing (a tap tying each reply to the request it answers)', () => {
  it('answers requests sharing a match key in the order they were sent, per relay socket', () => {
    const pairing = new ReplyPairing();
    const a = { ip: '10.0.0.1', port: 40001 };
    const b = { ip: '10.0.0.1', port: 40002 };
    pairing.request(a, 'seq:7', 111);
    pairing.request(a, 'seq:7', 222);
    pairing.request(b, 'seq:7', 333);
    expect(pairing.reply(a, 'seq:7')).toBe(111);
    expect(pairing.reply(b, 'seq:7')).toBe(333);
    expect(pairing.reply(a, 'seq:7')).toBe(222);
    // A reply to nothing the tap saw is not tied to anything (it falls back to the match key).
    expect(pairing.reply(a, 'seq:7')).toBeUndefined();
    expect(pairing.reply(a, 'seq:8')).toBeUndefined();
  });
});
