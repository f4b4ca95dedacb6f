// `npm run bench -- [name...]`: runs the named benchmarks (all when none is named) and prints their figures.
import { killAll } from '../src/scenario/child-processes.ts';
import { benchAnalyse } from './analyse.ts';
import { benchBackend } from './backend.ts';
import { benchHttpImport } from './http-import.ts';
import { benchHttpReplay } from './http-replay.ts';
import { benchImport } from './import.ts';
import { benchPgImport, benchPgReplay } from './pg.ts';
import { benchRelay } from './relay.ts';
import { benchRelayFaults } from './relay-faults.ts';
import { benchReplay, benchReplayPlacement, benchReplayWaits } from './replay.ts';
import { benchReplaySoak } from './replay-soak.ts';
import { benchStart } from './start.ts';
import { benchTap } from './tap.ts';
import { benchWsFanout } from './ws-fanout.ts';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  import: benchImport,
  replay: benchReplay,
  'replay-soak': benchReplaySoak,
  'replay-waits': benchReplayWaits,
  'replay-placement': benchReplayPlacement,
  relay: benchRelay,
  'relay-faults': benchRelayFaults,
  analyse: benchAnalyse,
  tap: benchTap,
  backend: benchBackend,
  'http-import': benchHttpImport,
  'http-replay': benchHttpReplay,
  'ws-fanout': benchWsFanout,
  'pg-import': benchPgImport,
  'pg-replay': benchPgReplay,
  start: benchStart,
};

// Ctrl-C or a kill: the relays and backends a bench started run in process groups of their own, and outlived it,
// holding their addresses (the next `npm run bench -- relay` failed with EADDRINUSE). They are killed first, then the
// signal is raised again to end this process as it would have.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(BENCHMARKS).join(', ')})\n`);
  process.exitCode = 2;
} else {
  for (const name of asked.length > 0 ? asked : Object.keys(BENCHMARKS)) {
    await (BENCHMARKS[name] as () => Promise<void>)();
  }
}
