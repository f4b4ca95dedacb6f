import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownerAlive, thisProcess } from './owner.ts';

/** How often a long command rewrites its progress file: cheap enough never to slow a replay or a recording. */
const WRITE_INTERVAL_MS = 1000;

/** What a long command in progress says of itself, beside the store it holds. */
export interface ProgressReport {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  updatedAt: string;
  progress: Record<string, number | string | null>;
}

/** Progress files live beside the store, since the store itself is locked by the command that writes them. */
function progressDir(storePath: string): string {
  return `${storePath}.progress`;
}

/**
 * A long command's progress, written beside its store at most once a second (write then rename, so a reader never
 * sees half a file) and removed when the command ends: `parity runs` shows it while the store is locked.
 */
export class ProgressFile {
  private lastWriteMs = 0;
  private readonly path: string;
  private readonly startedAt = new Date().toISOString();

  constructor(
    storePath: string,
    private readonly command: string,
  ) {
    const dir = progressDir(storePath);
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${process.pid}.json`);
  }

  update(progress: ProgressReport['progress'], force = false): void {
    const now = Date.now();
    if (!force && now - this.lastWriteMs < WRITE_INTERVAL_MS) return;
    this.lastWriteMs = now;
    const { pid, host } = thisProcess();
    const report: ProgressReport = { pid, host, command: this.command, startedAt: this.startedAt, updatedAt: new Date(now).toISOString(), progress };
    try {
      writeFileSync(`${this.path}.tmp`, JSON.stringify(report));
      renameSync(`${this.path}.tmp`, this.path);
    } catch {
      // Progress is a courtesy: a full disk or a removed folder must not stop the work it reports on.
    }
  }

  close(): void {
    rmSync(this.path, { force: true });
  }
}

/** The progress of the commands working on a store now; files left by processes that died are skipped. */
export function readProgressFiles(storePath: string): ProgressReport[] {
  let names: string[];
  try {
    names = readdirSync(progressDir(storePath)).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    try {
      const report = JSON.parse(readFileSync(join(progressDir(storePath), name), 'utf8')) as ProgressReport;
      return ownerAlive({ pid: report.pid, host: report.host }) ? [report] : [];
    } catch {
      return [];
    }
  });
}
