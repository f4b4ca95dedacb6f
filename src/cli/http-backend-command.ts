import type { Command } from 'commander';
import { HttpBackend, type HttpBackendFaults } from '../backends/http/http-backend.ts';
import { parseDurationMs, parseFieldChange, parseFraction, parseInteger, parseListen } from './option-parsers.ts';
import { printJson, printNote } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface HttpBackendFlags {
  listen: { ip: string; ports: number[] };
  role: string;
  latency?: number;
  errors?: number;
  resets?: number;
  ignoreBody?: boolean;
  changeField?: { name: string; value: string | number | boolean | null };
  seed?: number;
  duration?: number;
  json?: boolean;
}

export function registerHttpBackendCommand(program: Command): void {
  program
    .command('http-backend')
    .description('run a simulated HTTP backend (live or shadow) that records what it receives and answers deterministic JSON, misbehaving on demand')
    .requiredOption('--listen <ip:port>', 'address and port to listen on, e.g. 127.0.0.2:8081', parseListen)
    .option('--role <role>', 'live or shadow (sent back as X-Backend-Role)', 'live')
    .option('--latency <duration>', 'delay before each answer, e.g. 50ms', parseDurationMs)
    .option('--errors <share>', 'share of requests answered 503, e.g. 1%', parseFraction)
    .option('--resets <share>', 'share of connections reset instead of answered, e.g. 0.5%', parseFraction)
    .option('--ignore-body', 'answer as if every request had no body (the empty-body shadow bug, on purpose)')
    .option('--change-field <field=value>', 'set a field of every answer to another value, e.g. currency=EUR', parseFieldChange)
    .option('--seed <n>', 'seed of the fault dice', parseInteger)
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .option('--json', 'print the counters as JSON when stopping')
    .addHelpText('after', '\nExamples:\n  parity http-backend --listen 127.0.0.2:8081 --role live\n  parity http-backend --listen 127.0.0.3:8081 --role shadow --latency 200ms --errors 2% --ignore-body\n')
    .action(async (flags: HttpBackendFlags) => {
      const faults: HttpBackendFaults = {
        ...(flags.latency !== undefined && { latencyMs: flags.latency }),
        ...(flags.errors !== undefined && { errorShare: flags.errors }),
        ...(flags.resets !== undefined && { resetShare: flags.resets }),
        ...(flags.ignoreBody === true && { ignoreBody: true }),
        ...(flags.changeField !== undefined && { changedField: flags.changeField }),
      };
      const backend = await HttpBackend.start({ host: flags.listen.ip, port: flags.listen.ports[0] ?? 0, role: flags.role, faults, ...(flags.seed !== undefined && { seed: flags.seed }) });
      printNote(`http backend (${flags.role}) listening on ${backend.url}`);
      await waitForStop(flags.duration).stopped;
      const counts = { role: flags.role, received: backend.received.length, answered: backend.answered, clientsGone: backend.clientsGone, bodyBytes: backend.received.reduce((sum, r) => sum + r.body.length, 0) };
      await backend.close();
      if (flags.json === true) printJson(counts);
      else printNote(`http backend (${flags.role}) stopped: ${counts.received} requests received (${counts.bodyBytes} body bytes), ${counts.answered} answered, ${counts.clientsGone} left by their client mid-body`);
    });
}
