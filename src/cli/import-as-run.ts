import { recordTraffic, type RecordResult } from '../capture/record/record-session.ts';
import { runTarget } from '../capture/record/record-targets.ts';
import { loadTopology } from '../capture/record/topology.ts';
import { UsageError } from '../core/errors.ts';
import { formatCount } from '../core/format.ts';
import { getProtocol } from '../protocols/index.ts';
import { withStore } from '../store/store.ts';
import { printJson, printNote, printTable } from './output.ts';

/**
 * `parity import FILE --run NAME --topology FILE`: a capture taken on the relay's host, kept as the observations of a
 * live run (every leg: device>relay, relay>primary, primary>relay, relay>device...) to analyse directly, as
 * `parity record --iface` does live. The topology names the relay and backends, so each datagram gets its leg.
 */
export async function importAsRun(files: readonly string[], flags: { db: string; run: string; topology?: string; protocol: string; json?: boolean }): Promise<number> {
  if (flags.topology === undefined) throw new UsageError('--run needs --topology FILE to tell the relay and backends apart', { field: 'topology' });
  const [file, ...more] = files;
  if (file === undefined || more.length > 0) throw new UsageError('--run takes one capture file', { field: 'run' });
  const topology = await loadTopology(flags.topology);
  const protocol = getProtocol(flags.protocol);
  const result: RecordResult = await withStore(flags.db, async (store) => {
    const backends = [...topology.backends].map(([role, ip]) => ({ role, ip, observation: 'live' as const, observed: `file ${file}` }));
    const target = await runTarget(store, flags.run, protocol, `file:${file}`, { backends, routes: [] }, false);
    return recordTraffic({ source: { kind: 'file', path: file, topology }, target, stopped: new Promise<string>(() => undefined) });
  });
  if (flags.json === true) printJson(result);
  else {
    printTable(
      ['run', 'recorded', 'not the relay\'s', 'legs'],
      [[flags.run, formatCount(result.recorded), formatCount(result.unassigned), Object.entries(result.byLeg).map(([leg, n]) => `${leg} ${formatCount(n)}`).join(', ') || '-']],
    );
    if (result.partial !== undefined) printNote(`${file}: ${result.partial}; the run keeps what came before and is marked interrupted`);
    if (result.kernelDrops > 0) {
      printNote(
        `${file}: its capture dropped ${formatCount(result.kernelDrops)} packets (its interface statistics); the run is marked interrupted: ` +
          '`parity analyse --partial` judges each rate within as many either way',
      );
    }
  }
  return result.partial !== undefined || result.unrecorded > 0 || result.recorded === 0 ? 1 : 0;
}
