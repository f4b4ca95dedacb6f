import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { SubprocessError } from '../../core/errors.ts';
import { reapPgDataWithThisProcess, releasePgData, spawnReaped } from '../../core/process-reaper.ts';

/** A temporary PostgreSQL server of Debian's `postgresql` package, on a loopback address, removed when stopped. */
export interface PgCluster {
  host: string;
  port: number;
  dataDir: string;
  /** A connection URL (user postgres, trusted on loopback). */
  url(database?: string): string;
  /** Stops the server and keeps its data (an outage): `resume` starts it again as it was. */
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export interface PgClusterOptions {
  host: string;
  port: number;
  /** Extra server settings (`-c name=value`), e.g. logging every statement as csvlog. */
  settings?: Record<string, string>;
  /** Accept TLS too, with a self-signed certificate made for the cluster (openssl): for clients that ask for it. */
  tls?: boolean;
}

const START_TIMEOUT_S = 30;

/**
 * Where PostgreSQL's server programs are: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (the newest), which
 * the package does not put on PATH. Undefined when the package is not installed.
 */
export function findPgBin(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** One of PostgreSQL's programs (pgbench, psql, ...): beside initdb, else in Debian's newest version directory. */
export function findPgProgram(name: string): string | undefined {
  const beside = findPgBin();
  if (beside !== undefined && existsSync(join(beside, name))) return join(beside, name);
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', name))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin', name);
}

/**
 * The user the server runs as: PostgreSQL refuses to run as root, so as root it is the package's `postgres` user
 * (else `nobody`); otherwise whoever runs this.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':'));
  const entry = passwd.find((fields) => fields[0] === 'postgres') ?? passwd.find((fields) => fields[0] === 'nobody');
  if (entry === undefined) throw new SubprocessError('PostgreSQL cannot run as root, and this machine has neither a postgres nor a nobody user to run it as');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** Starts a fresh cluster (initdb, then pg_ctl start), trusting connections on its loopback address only. */
export async function startPgCluster(options: PgClusterOptions): Promise<PgCluster> {
  const bin = findPgBin();
  if (bin === undefined) throw new SubprocessError("PostgreSQL's server programs (initdb, pg_ctl) are not installed: install Debian's postgresql package (apt-get install postgresql)");
  const user = serverUser();
  const dataDir = mkdtempSync(join(tmpdir(), 'parity-pg-'));
  // pg_ctl starts the server in a session of its own: were this process SIGKILLed, it would outlive it.
  reapPgDataWithThisProcess(dataDir);
  if (user !== undefined) chownSync(dataDir, user.uid, user.gid);
  const run = (program: string, args: string[], timeoutS: number): Promise<void> => runAs(join(bin, program), args, user, timeoutS);
  let serverArgs = '';
  try {
    await run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], 120);
    // The server reads server.crt and server.key from its data directory, the key only if its owner alone can read it.
    if (options.tls === true) {
      await runAs('openssl', ['req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=localhost', '-keyout', join(dataDir, 'server.key'), '-out', join(dataDir, 'server.crt')], user, 30);
      chmodSync(join(dataDir, 'server.key'), 0o600);
    }
    const settings: Record<string, string> = {
      ...(options.tls === true && { ssl: 'on' }),
      listen_addresses: options.host,
      port: String(options.port),
      unix_socket_directories: dataDir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    };
    serverArgs = Object.entries(settings).map(([name, value]) => `-c ${name}=${quoteSetting(value)}`).join(' ');
    await run('pg_ctl', ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-o', serverArgs, '-w', '-t', String(START_TIMEOUT_S), 'start'], START_TIMEOUT_S + 10);
  } catch (error) {
    const log = existsSync(join(dataDir, 'server.log')) ? readFileSync(join(dataDir, 'server.log'), 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    rmSync(dataDir, { recursive: true, force: true });
    releasePgData(dataDir);
    throw new SubprocessError(`PostgreSQL on ${options.host}:${options.port} did not start: ${(error as Error).message}${log === '' ? '' : `; its log ends: ${log}`}`, {}, { cause: error });
  }
  let stopped = false;
  return {
    host: options.host,
    port: options.port,
    dataDir,
    url: (database = 'postgres') => `postgres://postgres@${options.host}:${options.port}/${database}`,
    halt: () => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop'], 30),
    resume: async () => {
      try {
        await run('pg_ctl', ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-o', serverArgs, '-w', '-t', String(START_TIMEOUT_S), 'start'], START_TIMEOUT_S + 10);
      } catch (error) {
        throw new SubprocessError(`PostgreSQL on ${options.host}:${options.port} did not start again: ${(error as Error).message}; its log ends: ${logTail(dataDir)}`, {}, { cause: error });
      }
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], 30);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        releasePgData(dataDir);
      }
    },
  };
}

function logTail(dataDir: string): string {
  const file = join(dataDir, 'server.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ') : '(no log)';
}

function quoteSetting(value: string): string {
  return /^[\w./:-]+$/.test(value) ? value : `'${value.replace(/'/g, "''")}'`;
}

function runAs(program: string, args: string[], user: { uid: number; gid: number } | undefined, timeoutS: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // A group of its own, handed to the reaper: a pg_ctl left running by a killed parity would start its server after.
    const child = spawnReaped(program, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(user !== undefined && { uid: user.uid, gid: user.gid }), cwd: '/' });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${program.split('/').pop() ?? program} ${signal === null ? `exited ${code ?? '?'}` : `was killed (${signal})`}${stderr.trim() === '' ? '' : `: ${stderr.trim().split('\n').slice(-2).join(' ')}`}`));
    });
  });
}
