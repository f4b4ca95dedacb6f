// How `parity analyse` and `parity report` have glibc's allocator keep the memory of its largest allocations. DuckDB's
// operators take some of their working memory from glibc's malloc (an exact percentile holds every value of its group
// in one vector that doubles as it grows), and glibc gives each request above 32 MB its own fresh mapping, and in a
// thread's own arena any request above 64 MB whatever it is told: every one is handed back when freed and faulted in
// again, a page at a time, at the next. On this project's virtual machine a page faulted in costs 10-15 µs: at 100M
// observations the metrics steps took 0.9M such faults. With one arena (the main one, which grows its heap instead of
// mapping) and no mappings, freed memory stays in the heap for the next request (docs/performance.md, 2026-12-05).
// glibc reads these settings only as a process starts (GLIBC_TUNABLES), so `parity analyse` and `parity report` start
// themselves again with them; other commands keep glibc's defaults (a replay's sending thread is not to share one
// arena's lock with DuckDB's). Another C library ignores the variable.
//
// Plain JavaScript with no dependency: it runs before anything else of the project can.
import { spawn } from 'node:child_process';

/** glibc's settings for an analysis: one arena, no request served by a mapping of its own. */
export const ANALYSIS_TUNABLES = 'glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0';

/** Set in the restarted process, and by a user who wants glibc's defaults kept (any value): no restart then. */
export const ALLOCATOR_MARKER = 'PARITY_ANALYSIS_ALLOCATOR';

/** The commands that analyse a run. */
const ANALYSING = new Set(['analyse', 'report']);

/**
 * Whether this `parity` process is to start itself again with the analysis's settings: `parity analyse` or `parity
 * report` where they apply (allocatorApplies).
 * @param {readonly string[]} argv
 * @param {NodeJS.ProcessEnv} env
 */
export function wantsAnalysisAllocator(argv, env) {
  return ANALYSING.has(argv[2] ?? '') && allocatorApplies(env);
}

/**
 * On Linux, in a process not restarted already and not asked to keep glibc's defaults.
 * @param {NodeJS.ProcessEnv} env
 */
export function allocatorApplies(env) {
  return process.platform === 'linux' && env[ALLOCATOR_MARKER] === undefined;
}

/**
 * The environment an analysis runs in when `parity analyse` runs it (the benchmark's measuring processes take it).
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv}
 */
export function envForAnalysis(env) {
  return allocatorApplies(env) ? analysisEnv(env) : env;
}

/**
 * `env` with the analysis's settings after any the user gave (glibc takes the last of a name), and the marker.
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv}
 */
export function analysisEnv(env) {
  const given = env.GLIBC_TUNABLES;
  return { ...env, GLIBC_TUNABLES: given === undefined || given === '' ? ANALYSIS_TUNABLES : `${given}:${ANALYSIS_TUNABLES}`, [ALLOCATOR_MARKER]: 'analysis' };
}

const FORWARDED = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);

/**
 * Runs this command again in a child with the analysis's settings, its standard streams this process's own, and
 * resolves with its exit status. A signal this process gets is passed on; a child ended by a signal ends this process
 * by the same one. The child watches this process through an IPC channel (watchParent) and ends when it goes, even
 * by SIGKILL: no analysis is left writing to a store nobody waits for.
 * @returns {Promise<number>}
 */
export function runWithAnalysisAllocator() {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: analysisEnv(process.env),
    });
    /** @param {NodeJS.Signals} signal */
    const forward = (signal) => child.kill(signal);
    for (const signal of FORWARDED) process.on(signal, forward);
    const settle = () => {
      for (const signal of FORWARDED) process.removeListener(signal, forward);
    };
    child.on('error', (error) => {
      settle();
      process.stderr.write(`parity: cannot start the analysis: ${error.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      settle();
      if (signal !== null) process.kill(process.pid, signal);
      else resolve(code ?? 1);
    });
  });
}

/**
 * In a process runWithAnalysisAllocator started: ends it as SIGTERM would when the process that started it is gone.
 * The channel does not keep it running.
 */
export function watchParent() {
  if (process.env[ALLOCATOR_MARKER] !== 'analysis' || process.channel === undefined) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
