import { UsageError } from './errors.ts';

/**
 * Run, capture and scenario names become folder names (`reports/<run>/`) and appear in HTML, Markdown and JUnit: they
 * are kept to a character set that is safe in all of them. A name never starts with a dot, so `.` and `..` are not
 * names and no name can leave the folder it is written under.
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

export const NAME_RULE = 'letters, digits, ".", "_" and "-", at most 100 characters, not starting with "." or "-"';

export function isSafeName(name: string): boolean {
  return NAME.test(name);
}

/** The name itself, or a usage error naming the flag or key it came from and the rule. */
export function checkName(name: string, field: string): string {
  if (!isSafeName(name)) throw new UsageError(`${field} ${JSON.stringify(name)} is not a usable name: use ${NAME_RULE}`, { field });
  return name;
}

/** A usable name made from any text (a file's base name): other characters become "-". */
export function toSafeName(text: string): string {
  const mapped = text.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '').slice(0, 100);
  return mapped === '' ? 'capture' : mapped;
}
