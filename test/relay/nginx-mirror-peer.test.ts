import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBackend } from '../../src/backends/http/http-backend.ts';
import { ShadowProxy } from '../../src/relay/http/shadow-proxy.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { runParity } from '../helpers/run-parity.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { readReport } from '../helpers/report-file.ts';

const nginxReady = requirePrerequisite(spawnSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore' }).status === 0, 'nginx (apt-get install nginx) for the nginx mirror peer test');
const NGINX = '127.0.92.1';
const PORT = 18092;

const opened: { close(): Promise<void> }[] = [];
let nginx: ChildProcess | undefined;
afterEach(async () => {
  nginx?.kill('SIGKILL');
  nginx = undefined;
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

/** nginx as a real shadowing proxy: its `mirror` directive, from a generated config on loopback, in the foreground. */
async function startNginx(dir: string, live: string, shadow: string): Promise<string> {
  for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, temp), { recursive: true });
  const config = join(dir, 'nginx.conf');
  writeFileSync(
    config,
    `daemon off; master_process off; worker_processes 1; error_log ${dir}/error.log; pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen ${NGINX}:${PORT};
    location / { mirror /__mirror; mirror_request_body on; proxy_pass ${live}; }
    location = /__mirror { internal; proxy_pass ${shadow}$request_uri; }
  }
}
`,
  );
  // -e: the log nginx writes before it has read the config, kept in the test's directory too.
  nginx = spawn('nginx', ['-e', join(dir, 'error.log'), '-c', config, '-p', dir], { stdio: 'ignore' });
  const url = `http://${NGINX}:${PORT}`;
  await waitFor(async () => {
    const probe = new Client(url);
    try {
      await (await probe.request({ path: '/__probe', method: 'GET' })).body.dump();
      return true;
    } catch {
      return false;
    } finally {
      await probe.close();
    }
  }, 'nginx to listen');
  return url;
}

/** Three requests one after another on one keep-alive connection; how many requests the shadow had answered as each answer came. */
async function sequence(url: string, shadow: HttpBackend): Promise<number[]> {
  const client = new Client(url, { pipelining: 1 });
  const seen: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await client.request({ path: `/v1/charge/${i}`, method: 'POST', body: `{"n":${i}}` });
      await answer.body.dump();
      expect(answer.statusCode).toBe(200);
      seen.push(shadow.answered);
    }
  } finally {
    await client.close();
  }
  return seen;
}

describe.runIf(nginxReady)('nginx mirror, a real external shadowing proxy, beside the reference proxy', () => {
  it('mirrors the body; and on a kept-alive connection, each request waits until the shadow answered the one before: a live latency impact the reference proxy does not have', async () => {
    await withTempDir(async (dir) => {
      const live = await HttpBackend.start({ host: '127.0.92.2', role: 'live' });
      const shadow = await HttpBackend.start({ host: '127.0.92.3', role: 'shadow', faults: { latencyMs: 800 } });
      opened.push(live, shadow);
      const url = await startNginx(dir, live.url, shadow.url);
      // The start-up probe was mirrored too: let it be answered before counting.
      await waitFor(() => shadow.answered === shadow.received.length, 'the probe\'s mirror to be answered');
      shadow.received.length = 0;
      shadow.answered = 0;
      const nginxSeen = await sequence(url, shadow);
      expect(shadow.received.find((r) => r.path === '/v1/charge/0')?.body.toString()).toBe('{"n":0}');
      // The second answer came only after the shadow had answered the first, the third after it had answered the second.
      expect(nginxSeen[1]).toBeGreaterThanOrEqual(1);
      expect(nginxSeen[2]).toBeGreaterThanOrEqual(2);

      const slowShadow = await HttpBackend.start({ host: '127.0.92.4', role: 'shadow', faults: { latencyMs: 5000 } });
      const proxy = await ShadowProxy.start({ host: '127.0.92.5', live: live.url, shadow: slowShadow.url, shadowTimeoutMs: 10_000 });
      opened.push(slowShadow, proxy);
      // The reference proxy: every answer while the shadow has answered nothing yet.
      expect(await sequence(proxy.url, slowShadow)).toEqual([0, 0, 0]);
      await waitFor(() => slowShadow.received.length === 3, 'the shadow to receive all three');
    });
  });

  it('judged as the proxy under test of an HTTP scenario: its live path waits on a slow mirror, a live latency impact in the verdict', async () => {
    await withTempDir(async (dir) => {
      // Started by the scenario for each of its runs, told the addresses through its environment.
      writeFileSync(
        join(dir, 'start-nginx.sh'),
        `#!/bin/sh
set -e
d="$PARITY_RUN_DIR"
for t in body proxy fastcgi uwsgi scgi; do mkdir -p "$d/$t"; done
mirror=""
if [ -n "$PARITY_SHADOW_URL" ]; then mirror="mirror /__mirror; mirror_request_body on;"; fi
cat > "$d/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log $d/error.log; pid $d/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  server {
    listen $PARITY_PROXY_HOST:$PARITY_PROXY_PORT;
    location / { $mirror proxy_pass $PARITY_LIVE_URL; }
    location = /__mirror { internal; proxy_pass $PARITY_SHADOW_URL\\$request_uri; }
  }
}
CONF
exec nginx -e "$d/error.log" -c "$d/nginx.conf" -p "$d"
`,
      );
      writeFileSync(
        join(dir, 'nginx.yaml'),
        `name: nginx-mirror
protocol: http
traffic:
  generate: { requests: 300, mean_gap: 5ms, seed: 11 }
proxy:
  external: { command: sh ./start-nginx.sh, port: 18093 }
backends:
  live: { latency: 2ms }
  shadow: { latency: 2ms }
replay: { speed: 1x }
`,
      );
      const run = await runParity(['run', join(dir, 'nginx.yaml'), '--db', join(dir, 'n.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 120_000 });
      const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
      const report = readReport(runDir);
      const messages = report.findings.map((f) => f.message);
      const value = (metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend && m.route === null)?.value ?? null;
      expect(run.code, run.stderr).toBe(report.verdict === 'GO' || report.verdict === 'GO_WITH_WARNINGS' ? 0 : 1);
      // The bodies arrive whole (mirror_request_body on), but with the mirror slow the live answers wait for it: the
      // requests behind an unfinished mirror on their connection, which shows at p95 (the median stays: 4-37 ms).
      expect(report.metrics.find((m) => m.metric === 'body_mismatch_rate' && m.backend === 'shadow')?.value).toBe(0);
      // Asserted, and so in the verdict, where the run with no shadow has a p95 the machine's load did not make: under
      // two busy loops on a slow 2-core machine that run's p95 was 453 ms, and the p95 differences were noise either
      // way (README, "Latency compared across runs": such a difference is now inconclusive rather than wrong).
      const baselineP95 = (value('client_latency_p95_ms', null) ?? 0) - (value('live_latency_impact_p95_ms', null) ?? 0);
      if (baselineP95 < 150) {
        // Critical, or inconclusive where nginx's own queue behind the slow mirror drifted within the run as far: never
        // a pass either way.
        const slow = report.metrics.find((m) => m.metric === 'live_latency_impact_p95_ms' && m.backend === 'shadow slow' && m.route === null);
        expect(slow?.status, messages.join('\n')).toMatch(/^(critical|inconclusive)$/);
        expect(report.verdict, run.stderr).toEqual(slow?.status === 'critical' ? 'NO_GO' : expect.stringMatching(/^(NO_GO|INCONCLUSIVE)$/));
      }
      // nginx says nothing of where it routed: the explainability headers are missing.
      expect(messages.some((m) => /^proxy: \d+ of \d+ answers do not say where they were routed/.test(m)), messages.join('\n')).toBe(true);
    });
  }, 150_000);
});
