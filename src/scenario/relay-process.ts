import type { JsonObject } from '../core/json.ts';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SubprocessError } from '../core/errors.ts';
import { spawnTracked, stopTracked } from './child-processes.ts';

const PARITY_BIN = fileURLToPath(new URL('../cli/parity.js', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface RelayRoutes {
  globals: JsonObject;
  routes: JsonObject[];
}

/** The reference relay (`parity relay`) as a subprocess of a scenario, driven through its routes file. */
export class RelayProcess {
  private output = '';
  private events: Record<string, unknown>[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly routesPath: string,
    readonly debugUrl: string,
    private current: RelayRoutes,
  ) {}

  /** The relay's process id (to pin it to a core, to read the CPU it spends). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** `io`: the relay's datagram path (`parity relay --io`; default PARITY_UDP_IO, else auto). */
  static async start(dir: string, options: { address: string; responseTimeoutMs: number; routes: RelayRoutes; io?: 'auto' | 'native' | 'dgram' }): Promise<RelayProcess> {
    const routesPath = join(dir, 'routes.json');
    writeFileSync(routesPath, JSON.stringify({ ...options.routes.globals, routes: options.routes.routes }, null, 2));
    writeFileSync(join(dir, 'config.yaml'), `app:\n  bind_ip: "${options.address}"\n  response_timeout_ms: ${options.responseTimeoutMs}\n`);
    const child = spawnTracked(process.execPath, [PARITY_BIN, 'relay', '--routes', routesPath, '--config', join(dir, 'config.yaml'), '--debug-port', '0', ...(options.io === undefined ? [] : ['--io', options.io])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let started: Record<string, unknown> | undefined;
    while (started === undefined && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      started = parseEvents(stdout).find((e) => e.event === 'relay_started');
    }
    if (started === undefined) {
      await stopTracked(child);
      throw new SubprocessError(`the reference relay did not start: ${stderr.trim().split('\n').at(-1) ?? 'no output'}`);
    }
    const relay = new RelayProcess(child, routesPath, String(started.debug), options.routes);
    child.stdout?.removeAllListeners('data');
    relay.output = stdout;
    child.stdout?.on('data', (chunk: Buffer) => {
      relay.output += chunk.toString();
      relay.events = parseEvents(relay.output);
    });
    relay.events = parseEvents(stdout);
    return relay;
  }

  /** Changes the routes file's top-level fields (a live reload) and waits until the relay has applied or refused it. */
  async reload(globals: JsonObject): Promise<void> {
    const before = this.events.filter((e) => e.event === 'config_reloaded' || e.event === 'mirror_config_invalid').length;
    this.current = { ...this.current, globals: { ...this.current.globals, ...globals } };
    writeFileSync(this.routesPath, JSON.stringify({ ...this.current.globals, routes: this.current.routes }, null, 2));
    const deadline = Date.now() + 5000;
    while (this.events.filter((e) => e.event === 'config_reloaded' || e.event === 'mirror_config_invalid').length === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  get logEvents(): readonly Record<string, unknown>[] {
    return this.events;
  }

  async stop(): Promise<void> {
    await stopTracked(this.child);
  }
}

function parseEvents(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{') && line.endsWith('}'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
