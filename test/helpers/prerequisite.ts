/**
 * A test that needs something outside the project (a Debian package, root, ../shared/corpus) says so when it is
 * missing. Locally it then skips, with the warning; under CI (CI=true), where .ci/run installs everything, a missing
 * prerequisite is a broken set-up and fails the run instead of passing silently.
 */
export function requirePrerequisite(available: boolean, what: string): boolean {
  if (available) return true;
  if (process.env.CI === 'true') throw new Error(`CI: ${what} is missing, and CI must run every test`);
  console.warn(`${what} is missing: its tests did NOT run`);
  return false;
}
