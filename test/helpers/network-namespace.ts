import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requirePrerequisite } from './prerequisite.ts';

// Loopback never holds what is sent: the kernel hands a datagram's memory back as it delivers it, so a UDP socket's
// send buffer never fills and a backend is never behind a slow link. A network namespace of the test's own, whose
// loopback queues what is sent behind a token bucket (`tc`), does both; the test's scenario runs in a child process
// inside it (the namespace is the child's alone, and goes with it).

const RUN_TS = fileURLToPath(new URL('../../src/cli/run-ts.js', import.meta.url));

/** Everything through the namespace's loopback at `rate` (tc's units, e.g. 50mbit). */
export function loopbackAt(rate: string): string {
  return `ip link set lo up && tc qdisc add dev lo root tbf rate ${rate} burst 80kb limit 64mb`;
}

/** What goes to `ip` through the namespace's loopback at `rate`, everything else at once. */
export function linkTo(ip: string, rate: string): string {
  return [
    'ip link set lo up',
    'tc qdisc add dev lo root handle 1: htb default 20 r2q 100',
    `tc class add dev lo parent 1: classid 1:10 htb rate ${rate} ceil ${rate}`,
    'tc class add dev lo parent 1: classid 1:20 htb rate 10gbit ceil 10gbit',
    'tc qdisc add dev lo parent 1:10 handle 10: pfifo limit 100000',
    `tc filter add dev lo parent 1: protocol ip u32 match ip dst ${ip}/32 flowid 1:10`,
  ].join(' && ');
}

function commandRuns(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/**
 * Whether `setup` runs in a namespace of its own here. It needs root, util-linux's unshare and iproute2's tc (both
 * installed by .ci/run: their absence under CI fails the run), and a kernel that lets this process make a namespace
 * and has the queues asked for: a container without those skips, saying so.
 */
export function namespaceUsable(setup: string, what: string): boolean {
  const tools = process.platform === 'linux' && process.getuid?.() === 0 && commandRuns('unshare', ['--version']) && commandRuns('tc', ['-V']);
  if (!requirePrerequisite(tools, `root with unshare (util-linux) and tc (iproute2), for ${what}`)) return false;
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', setup], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  console.warn(`this kernel gives no network namespace with those queues (${probe.stderr.trim().split('\n').pop() ?? `exit ${String(probe.status)}`}): the tests of ${what} did NOT run`);
  return false;
}

/**
 * Runs a TypeScript entry point in a fresh namespace set up by `setup`, and returns the JSON line it printed last.
 * Its standard error must be empty but for tc's notices.
 */
export function runInNamespace<T>(setup: string, script: string, args: readonly string[], timeoutMs = 120_000): T {
  const quoted = [script, ...args].map((arg) => `"${arg}"`).join(' ');
  const run = spawnSync('unshare', ['-n', 'sh', '-c', `${setup} && exec "${process.execPath}" "${RUN_TS}" ${quoted}`], { encoding: 'utf8', timeout: timeoutMs });
  const errors = run.stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('Warning: sch_htb'))
    .join('\n');
  if (run.status !== 0 || errors !== '') throw new Error(`${script} in its namespace: exit ${String(run.status)}${run.signal === null ? '' : ` (${run.signal})`}\n${errors}`);
  const last = run.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}
