import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The header every C addon of the project includes (src/core/napi-args.h). */
const NAPI_ARGS_HEADER = fileURLToPath(new URL('./napi-args.h', import.meta.url));

/**
 * Whether an addon built at `binary` is older than its `source` or the header the addons share: it was built from an
 * earlier version, and is not loaded (npm run build:native builds it again).
 */
export function builtBeforeItsSources(binary: string, source: string): boolean {
  return statSync(binary).mtimeMs < Math.max(statSync(source).mtimeMs, statSync(NAPI_ARGS_HEADER).mtimeMs);
}
