import { describe, expect, it } from 'vitest';
import { WS_ANALYSIS_STEPS } from '../../src/analyse/ws/analyse-ws-run.ts';
import { frameReach, splitLoss } from '../../src/analyse/ws/frame-reach.ts';
import { Store } from '../../src/store/store.ts';

/**
 * Two windows of a playbook: the first sends to both gateways, the second to gateway-b alone. Each frame's receipts
 * are written as the gateways would record them, into a real store, and the split of the loss is read back.
 */
describe("a WebSocket run's loss split between the agent and its gateways", () => {
  it('a frame none of the gateways owed it processed is the agent’s; one another owed gateway got is the missing gateway’s; a window of one gateway keeps its loss', async () => {
    const store = await Store.open(':memory:');
    try {
      await store.exec(WS_ANALYSIS_STEPS.stepTable.sql);
      await store.exec('INSERT INTO ws_steps VALUES (0, 0, 1000), (1, 2000, 3000)');
      // seq, sent at, the gateways that processed it
      const frames: [number, number, string[]][] = [
        [1, 100, ['gateway-a', 'gateway-b']],
        [2, 200, ['gateway-a']], // gateway-b's loss
        [3, 300, []], // reached neither: the agent's
        [4, 400, ['gateway-b', 'gateway-b']], // a second copy changes nothing here; gateway-a's loss
        [5, 1500, []], // between the windows: judged by neither
        [6, 2100, ['gateway-b']],
        [7, 2200, []], // gateway-b alone was owed it: its loss
        [8, 2300, ['gateway-a']], // reached only a gateway not owed it: still gateway-b's loss
      ];
      for (const [seq, at, gateways] of frames) {
        await store.exec("INSERT INTO ws_sends VALUES (1, $seq, 's1', 'baseline', $seq, $at, $at)", { seq, at });
        for (const gateway of gateways) await store.exec("INSERT INTO ws_receipts VALUES (1, $gateway, 's1', 'baseline', $seq, $at + 5, false)", { gateway, seq, at });
      }
      const rows = await frameReach(store, 1, WS_ANALYSIS_STEPS.frameReach);
      const reach = splitLoss(rows, [
        { stepNo: 0, expected: ['gateway-a', 'gateway-b'] },
        { stepNo: 1, expected: ['gateway-b'] },
      ]);
      expect(reach.unreached).toBe(1);
      // A share of the first window's four frames, not of all eight: the second sends to one gateway.
      expect(reach.judged).toBe(4);
      expect(Object.fromEntries(reach.lostApart)).toEqual({ 'gateway-a': 1, 'gateway-b': 3 });
      // With no window sending to two gateways there is nothing to set a loss against: no unreached count at all.
      const single = splitLoss(rows, [{ stepNo: 0, expected: ['gateway-a'] }]);
      expect(single.unreached).toBeNull();
      expect(Object.fromEntries(single.lostApart)).toEqual({ 'gateway-a': 2 });
    } finally {
      store.close();
    }
  });
});
