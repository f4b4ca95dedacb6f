import { execFileSync } from 'node:child_process';

/** True where tcpdump is installed and this process may capture (root): the live-capture tests need both. */
export function tcpdumpUsable(): boolean {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}
