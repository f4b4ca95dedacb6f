import { spawnSync } from 'node:child_process';
import { requirePrerequisite } from './prerequisite.ts';

/**
 * Whether tshark runs here, for the checks that hold what we read or write to Wireshark's reading of the same bytes.
 * Missing, it says so (and fails the run under CI, where .ci/run installs it) instead of skipping those checks silently.
 */
export function tsharkReady(): boolean {
  return requirePrerequisite(spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0, 'tshark (apt-get install tshark)');
}
