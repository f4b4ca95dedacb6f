import { describe, expect, it } from 'vitest';
import { ReplyPairing } from '../../src/capture/record/reply-pairing.ts';

const ms = (n: number): bigint => BigInt(n) * 1_000_000n;

describe('ReplyPairing (a tap tying each reply to the request it answers)', () => {
  it('answers requests sharing a match key in the order they were sent, per relay socket', () => {
    const pairing = new ReplyPairing();
    const a = { ip: '10.0.0.1', port: 40001 };
    const b = { ip: '10.0.0.1', port: 40002 };
    pairing.request(a, 'seq:7', 111, ms(0), true);
    pairing.request(a, 'seq:7', 222, ms(1), true);
    pairing.request(b, 'seq:7', 333, ms(2), true);
    expect(pairing.reply(a, 'seq:7', ms(10))).toBe(111);
    expect(pairing.reply(b, 'seq:7', ms(11))).toBe(333);
    expect(pairing.reply(a, 'seq:7', ms(12))).toBe(222);
    // A reply to nothing the tap saw is not tied to anything (it falls back to the match key).
    expect(pairing.reply(a, 'seq:7', ms(13))).toBeUndefined();
    expect(pairing.reply(a, 'seq:8', ms(14))).toBeUndefined();
  });

  it('knows what is still owed and how long answers took from their own request, not from the last one sent', () => {
    const pairing = new ReplyPairing();
    const relay = { ip: '10.0.0.1', port: 40001 };
    // One request every 100 ms, each answered 300 ms later: three in flight at a time.
    for (let i = 0; i < 5; i++) pairing.request(relay, `seq:${i}`, i, ms(100 * i), true);
    pairing.request(relay, 'seq:99', 99, ms(450), false);
    expect(pairing.owedAnswers).toBe(5);
    for (let i = 0; i < 4; i++) pairing.reply(relay, `seq:${i}`, ms(100 * i + 300));
    expect(pairing.owedAnswers).toBe(1);
    expect(pairing.slowestAnswerMs).toBe(300);
    pairing.reply(relay, 'seq:4', ms(400 + 450));
    expect(pairing.owedAnswers).toBe(0);
    expect(pairing.slowestAnswerMs).toBe(450);
  });

  it('stops owing what it forgets: more requests on one key than it keeps', () => {
    const pairing = new ReplyPairing();
    const relay = { ip: '10.0.0.1', port: 40001 };
    for (let i = 0; i < 40; i++) pairing.request(relay, 'seq:1', i, ms(i), true);
    expect(pairing.owedAnswers).toBe(16);
    expect(pairing.reply(relay, 'seq:1', ms(100))).toBe(24);
    expect(pairing.owedAnswers).toBe(15);
  });
});
