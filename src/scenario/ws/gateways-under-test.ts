import { request } from 'undici';
import { Gateway } from '../../backends/ws/gateway.ts';
import type { WsReceiptWriter } from '../../backends/ws/ws-receipt-writer.ts';
import { WsTap } from '../../observe/ws-tap.ts';
import type { Store } from '../../store/store.ts';
import type { WsScenarioSpec } from './ws-scenario-spec.ts';

/** A gateway of a run as the agent reaches it: a simulated one, or a tap in front of a real one. */
export interface GatewayUnderTest {
  name: string;
  /** Where the agent sends (RELAY_BACKENDS). */
  url: string;
  /** Frames taken so far (a drain waits for this to stop growing). */
  taken(): number;
  /** Frames still on their way in (a tap's sends not yet written). */
  inFlight(): number;
  /** Refuses the upgrade on purpose (a simulated fault): the agent is not waited for to connect to it. */
  refusesUpgrade: boolean;
  close(): Promise<void>;
}

export async function startGateways(spec: WsScenarioSpec, block: string, receipts: WsReceiptWriter): Promise<GatewayUnderTest[]> {
  const started: GatewayUnderTest[] = [];
  try {
    for (const [index, g] of spec.gateways.entries()) {
      const host = `${block}.${2 + index}`;
      if (g.external === undefined) {
        const gateway = await Gateway.start({ host, name: g.name, faults: g.faults, seed: spec.replay.seed + index, record: receipts.recorderFor(g.name) });
        started.push({ name: g.name, url: gateway.url, taken: () => gateway.framesIn, inFlight: () => 0, refusesUpgrade: g.faults.refuseUpgrade === true, close: () => gateway.close() });
      } else {
        const tap = await WsTap.start({ host, target: g.external.url, record: receipts.recorderFor(g.name) });
        started.push({ name: g.name, url: tap.url, taken: () => tap.counters.forwarded, inFlight: () => tap.unsettled(), refusesUpgrade: false, close: () => tap.close() });
      }
    }
  } catch (error) {
    for (const gateway of started) await gateway.close();
    throw error;
  }
  return started;
}

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/**
 * Asks each real gateway that serves the fan-out spec's diagnostics what it processed of each session the run sent
 * (`/api/dev/diagnostics/parity?sessionId=`: per stream framesIn and acked; per session duplicates and out-of-order),
 * and keeps the answers (`ws_gateway_diagnostics`; a session's own counts on its row with stream `*`). A gateway that
 * cannot be asked is kept as such (a row with error), never taken for one that processed nothing.
 */
export async function storeGatewayDiagnostics(store: Store, runId: number, spec: WsScenarioSpec, sessions: readonly string[]): Promise<void> {
  const appender = await store.createAppender('ws_gateway_diagnostics');
  const row = (gateway: string, session: string, stream: string, values: [number, number, number, number], error: string | null): void => {
    appender.appendInteger(runId);
    appender.appendVarchar(gateway);
    appender.appendVarchar(session);
    appender.appendVarchar(stream);
    for (const value of values) appender.appendBigInt(BigInt(value));
    if (error === null) appender.appendNull();
    else appender.appendVarchar(error);
    appender.endRow();
  };
  try {
    for (const g of spec.gateways) {
      const base = g.external?.diagnostics;
      if (base === undefined || base === null) continue;
      for (const session of sessions) {
        try {
          const answer = await request(`${base.replace(/\/$/, '')}/api/dev/diagnostics/parity?sessionId=${encodeURIComponent(session)}`);
          if (answer.statusCode !== 200) {
            await answer.body.dump();
            throw new Error(`HTTP ${answer.statusCode}`);
          }
          const body = (await answer.body.json()) as Record<string, unknown>;
          const streams = (typeof body.streams === 'object' && body.streams !== null ? body.streams : {}) as Record<string, Record<string, unknown>>;
          let framesIn = 0;
          for (const [stream, counts] of Object.entries(streams)) {
            framesIn += num(counts.framesIn);
            row(g.name, session, stream, [num(counts.framesIn), num(counts.acked), 0, 0], null);
          }
          row(g.name, session, '*', [framesIn, 0, num(body.duplicates), num(body.outOfOrder)], null);
        } catch (error) {
          row(g.name, session, '*', [0, 0, 0, 0], `${base}: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    appender.closeSync();
  }
}
