import { writeFileSync } from 'node:fs';
import { seededRandom } from '../core/random.ts';

export interface TelemetrySpec {
  sessions: number;
  /** Stream names every session sends. */
  streams: readonly string[];
  /** Frames per second of each stream. */
  rateHz: number;
  durationMs: number;
  seed: number;
}

const START_MS = Date.parse('2026-11-28T08:00:00.000Z');

/**
 * Writes a newline-delimited JSON recording of telemetry: each session sends each stream at a steady rate (a car's
 * telemetry, as the fan-out spec carries), frames numbered per stream, with values that change from frame to frame.
 */
export function writeTelemetryRecording(file: string, spec: TelemetrySpec): void {
  const random = seededRandom(spec.seed);
  const lines: { ts: number; line: string }[] = [];
  const gapMs = 1000 / spec.rateHz;
  for (let s = 0; s < spec.sessions; s++) {
    const sessionId = `sess_${String(s + 1).padStart(3, '0')}`;
    const phase = random() * gapMs;
    for (const stream of spec.streams) {
      for (let seq = 0; seq * gapMs < spec.durationMs; seq++) {
        const ts = START_MS + phase + seq * gapMs;
        const frame = { sessionId, stream, seq, ts: Math.round(ts * 1000) / 1000, speed: Math.round(150 + 100 * random()), rpm: Math.round(6000 + 3000 * random()), lap: 1 + Math.floor(seq / 500) };
        lines.push({ ts, line: JSON.stringify(frame) });
      }
    }
  }
  lines.sort((a, b) => a.ts - b.ts);
  writeFileSync(file, `${lines.map((l) => l.line).join('\n')}\n`);
}
