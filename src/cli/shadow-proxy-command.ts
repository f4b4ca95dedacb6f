import type { Command } from 'commander';
import { LIVE_TIMEOUT_MS, ShadowProxy, type ShadowProxyStats } from '../relay/http/shadow-proxy.ts';
import { parseDurationMs, parseHttpUrl, parseListen, parseWsUrl } from './option-parsers.ts';
import { printJson, printNote } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface ShadowProxyFlags {
  listen: { ip: string; ports: number[] };
  live: string;
  shadow?: string;
  shadowTimeout: number;
  liveTimeout: number;
  duration?: number;
  json?: boolean;
  emptyShadowBody?: boolean;
  waitForShadow?: boolean;
  controlPlane?: string;
  name: string;
}

export function registerShadowProxyCommand(program: Command): void {
  program
    .command('shadow-proxy')
    .description('run the reference HTTP shadowing proxy: the live upstream answers, the shadow gets a copy of each request and is never waited for')
    .requiredOption('--listen <ip:port>', 'address and port to listen on, e.g. 127.0.0.1:8080', parseListen)
    .requiredOption('--live <url>', 'the live upstream, whose answers the clients get, e.g. http://127.0.0.2:8081', parseHttpUrl)
    .option('--shadow <url>', 'the shadow upstream, sent a copy of every request (none: a plain proxy, for a baseline)', parseHttpUrl)
    .option('--shadow-timeout <duration>', 'how long a shadow request may take before it is given up', parseDurationMs, 2000)
    .option('--live-timeout <duration>', 'how long the live upstream may take to answer before the client gets a 504', parseDurationMs, LIVE_TIMEOUT_MS)
    .option('--empty-shadow-body', 'a fault on purpose: the shadow gets each request without its body (the bug of a proxy that reads the body once, for live)')
    .option('--wait-for-shadow', 'a fault on purpose: the live answer waits for the shadow\'s (as nginx\'s mirror does)')
    .option('--control-plane <url>', 'take live, shadow and shadow timeout from a control plane\'s snapshots (ws://HOST:PORT/connect); the flags are the bootstrap until the first arrives', parseWsUrl)
    .option('--name <name>', 'its name to the control plane', 'shadow-proxy')
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .option('--json', 'print the counters as JSON when stopping')
    .addHelpText(
      'after',
      '\nExamples:\n  parity shadow-proxy --listen 127.0.0.1:8080 --live http://127.0.0.2:8081 --shadow http://127.0.0.3:8081 --shadow-timeout 1s --live-timeout 10s\n  parity shadow-proxy --listen 127.0.0.1:8080 --live http://127.0.0.2:8081 --shadow http://127.0.0.3:8081 --empty-shadow-body --wait-for-shadow\n' +
        '  parity shadow-proxy --listen 127.0.0.1:8080 --live http://127.0.0.2:8081 --control-plane ws://127.0.0.1:8081/connect\n',
    )
    .action(async (flags: ShadowProxyFlags) => {
      const proxy = await ShadowProxy.start({
        host: flags.listen.ip,
        port: flags.listen.ports[0] ?? 0,
        live: flags.live,
        shadow: flags.shadow ?? null,
        shadowTimeoutMs: flags.shadowTimeout,
        liveTimeoutMs: flags.liveTimeout,
        faults: { emptyShadowBody: flags.emptyShadowBody === true, liveWaitsForShadow: flags.waitForShadow === true },
        ...(flags.controlPlane !== undefined && { controlPlaneUrl: flags.controlPlane, name: flags.name }),
      });
      printNote(`shadow proxy listening on ${proxy.url}: live ${flags.live}, ${flags.shadow === undefined ? 'no shadow' : `shadow ${flags.shadow}`}`);
      await waitForStop(flags.duration).stopped;
      const stats = { ...proxy.stats, shadowFailures: { ...proxy.stats.shadowFailures } };
      await proxy.close();
      if (flags.json === true) printJson(stats);
      else printNote(describe(stats));
    });
}

function describe(s: ShadowProxyStats): string {
  const f = s.shadowFailures;
  return `shadow proxy stopped: ${s.requests} requests (${s.clientsGone} left by their client mid-body, ${s.liveErrors} live upstream failures, ${s.liveTimeouts} live timeouts answered 504); ${s.shadowed} shadowed, ${s.shadowAnswered} answered, ${f.status5xx} 5xx, ${f.timeout} timed out, ${f.connection} connection failures, ${s.shadowInFlight} still in flight`;
}
