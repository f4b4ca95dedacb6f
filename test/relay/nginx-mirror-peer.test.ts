import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBackend } from '../../src/backends/http/http-backend.ts';
import { ShadowProxy } from '../../src/relay/http/shadow-proxy.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

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
});
