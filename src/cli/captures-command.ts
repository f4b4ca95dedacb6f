import type { Command } from 'commander';
import { formatCount, formatDurationSec, formatEpochNs, formatPorts } from '../core/format.ts';
import { getCapture, listCaptures } from '../capture/capture-catalog.ts';
import { DEFAULT_STORE_PATH, storeExists, withExistingStore } from '../store/store.ts';
import { printJson, printTable } from './output.ts';

interface CapturesFlags {
  db: string;
  json?: boolean;
}

export function registerCapturesCommand(program: Command): void {
  program
    .command('captures')
    .description('list the captures in the store')
    .argument('[name]', 'show only this capture')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  parity captures --db parity.duckdb --json\n')
    .action(async (name: string | undefined, flags: CapturesFlags) => {
      // A name that is not there is a lookup error (exit 2, naming what is there), not an empty list. No store at the
      // path lists nothing, and makes none (a mistyped --db made one).
      const captures = name === undefined && !storeExists(flags.db)
        ? []
        : await withExistingStore(flags.db, async (store) => (name === undefined ? listCaptures(store) : [await getCapture(store, name)]));
      if (flags.json === true) {
        printJson(captures);
        return;
      }
      if (captures.length === 0) {
        process.stdout.write(`no captures in ${flags.db}; add one with: parity import FILE --db ${flags.db}\n`);
        return;
      }
      printTable(
        ['name', 'file', 'frames', 'udp', 'http', 'devices', 'routes', 'first', 'last', 'duration', 'status'],
        captures.map((c) => [
          c.name,
          c.source,
          formatCount(c.frames),
          formatCount(c.keptDatagrams),
          formatCount(c.httpExchanges),
          formatCount(c.devices),
          formatPorts(c.routePorts),
          formatEpochNs(c.firstTsNs),
          formatEpochNs(c.lastTsNs),
          formatDurationSec(c.durationSec),
          c.writing ? 'writing' : c.partial ? 'partial' : 'ok',
        ]),
      );
      for (const c of captures.filter((capture) => capture.error !== null)) process.stdout.write(`${c.name}: ${c.error ?? ''}\n`);
      for (const c of captures.filter((capture) => (capture.captureDrops ?? 0) > 0)) {
        process.stdout.write(`${c.name}: its capture dropped ${formatCount(c.captureDrops ?? 0)} packets before writing them (its interface statistics)\n`);
      }
    });
}
