import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Reads a `.sql` file that sits beside the module asking for it: SQL longer than a line lives in `.sql` files, one
 * statement per concern, so analysts can run them in the DuckDB shell. Named parameters are written `$name`.
 */
export function loadSql(moduleUrl: string, relativePath: string): string {
  return readFileSync(fileURLToPath(new URL(relativePath, moduleUrl)), 'utf8');
}
