import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
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

/**
 * The addon built at `binary` from `source`, or why it is not loaded: not built here (no C compiler at install), older
 * than its sources, or it does not load.
 */
export function loadAddon<T>(binary: string, source: string): { addon: T } | { missing: string } {
  try {
    if (!existsSync(binary)) return { missing: `${binary} is not built (npm run build:native builds it; it needs a C compiler)` };
    if (builtBeforeItsSources(binary, source)) return { missing: `${binary} is older than its sources (npm run build:native)` };
    return { addon: createRequire(import.meta.url)(binary) as T };
  } catch (error) {
    return { missing: `${binary} does not load: ${(error as Error).message.split('\n')[0] ?? ''}` };
  }
}
