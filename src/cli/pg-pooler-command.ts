import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { pgTarget } from '../core/values.ts';
import { parseDurationMs, parseFraction, parseInteger, parseListen, parseListenPort } from './option-parsers.ts';
import { printNote } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface PoolerFlags {
  listen: { ip: string; ports: number[] };
  primary: string;
  mirror?: string;
  exposure: number;
  queue: number;
  mirrorTimeout: number;
  metricsPort: number;
  seed?: number;
  duration?: number;
}

function hostPort(value: string, flag: string): { host: string; port: number } {
  const target = pgTarget(value);
  if (target === undefined) throw new UsageError(`${flag} "${value}" is not HOST:PORT (or postgres://HOST:PORT)`, { field: flag.replace(/^--/, '') });
  return target;
}

/** `parity pg-pooler`: the reference mirroring pooler of the mirror-stats spec, as a process. */
export function registerPgPoolerCommand(program: Command): void {
  program
    .command('pg-pooler')
    .description('run the reference PostgreSQL mirroring pooler: sessions passed through to the primary, requests copied to the mirror (mirror_exposure, mirror_queue), its counters at /metrics')
    .requiredOption('--listen <ip:port>', 'address and port clients connect to, e.g. 127.0.0.1:6432', parseListen)
    .requiredOption('--primary <host:port>', 'the database clients are served by')
    .option('--mirror <host:port>', 'mirror_of: the database that gets a copy of each request (none: a plain pass-through)')
    .option('--exposure <share>', 'mirror_exposure: the share of requests mirrored, e.g. 50%', parseFraction, 1)
    .option('--queue <n>', 'mirror_queue: requests that may wait for the mirror; more are dropped', parseInteger, 100)
    .option('--mirror-timeout <duration>', 'a mirrored request not answered in this long is a timeout', parseDurationMs, 5000)
    .option('--metrics-port <port>', 'where /metrics listens (on the --listen address)', parseListenPort, 9090)
    .option('--seed <n>', 'seed of the exposure dice', parseInteger)
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .addHelpText('after', '\nExamples:\n  parity pg-pooler --listen 127.0.0.1:6432 --primary 127.0.0.2:5432 --mirror 127.0.0.3:5432\n  parity pg-pooler --listen 127.0.0.1:6432 --primary 127.0.0.2:5432 --mirror 127.0.0.3:5432 --exposure 50% --queue 1000 --metrics-port 9187\n')
    .action(async (flags: PoolerFlags) => {
      const { MirroringPooler } = await import('../relay/pg/mirroring-pooler.ts');
      const pooler = await MirroringPooler.start({
        host: flags.listen.ip,
        port: flags.listen.ports[0] ?? 6432,
        primary: hostPort(flags.primary, '--primary'),
        mirror: flags.mirror === undefined ? null : hostPort(flags.mirror, '--mirror'),
        exposure: flags.exposure,
        queue: flags.queue,
        mirrorTimeoutMs: flags.mirrorTimeout,
        metricsPort: flags.metricsPort,
        ...(flags.seed !== undefined && { seed: flags.seed }),
      });
      printNote(`mirroring pooler listening on ${pooler.address.host}:${pooler.address.port}: primary ${flags.primary}, ${flags.mirror === undefined ? 'no mirror' : `mirror ${flags.mirror} (exposure ${Math.round(flags.exposure * 100)}%, queue ${flags.queue})`}; metrics at ${pooler.metricsUrl}`);
      await waitForStop(flags.duration).stopped;
      const s = pooler.stats;
      await pooler.close();
      printNote(`mirroring pooler stopped: ${s.total} requests, ${s.mirrored} mirrored, ${s.dropped} dropped; errors: ${Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    });
}
