import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RelayConfigError } from '../core/errors.ts';
import { DEFAULT_APP_CONFIG, type AppConfig, type RelayConfig, type RoutesFile } from './relay-config.ts';
import { resolveRelayConfig } from './resolve-config.ts';

/** Reads config.yaml's `app` section (all of it optional); a missing file is an error, a missing section is not. */
export async function loadAppConfig(path: string | undefined): Promise<AppConfig> {
  if (path === undefined) return { ...DEFAULT_APP_CONFIG };
  const text = await readText(path);
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { logLevel: 'error' });
  } catch (cause) {
    throw new RelayConfigError(`${path}: not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { file: path }, { cause });
  }
  const app = (parsed as { app?: Partial<AppConfig> } | null)?.app ?? {};
  const config: AppConfig = { ...DEFAULT_APP_CONFIG, ...app };
  // routes_file is relative to the config file, as a deployment's config directory holds both.
  if (config.routes_file !== undefined) config.routes_file = resolve(dirname(path), config.routes_file);
  return config;
}

/** Reads and parses routes.json, without resolving it. */
export async function loadRoutesFile(path: string): Promise<RoutesFile> {
  const text = await readText(path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new RelayConfigError(`${path}: not valid JSON: ${(cause as Error).message}`, { file: path }, { cause });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RelayConfigError(`${path}: must be a JSON object with a "routes" list`, { file: path, field: 'routes' });
  }
  return parsed as RoutesFile;
}

/** Reads, parses and resolves the relay's configuration; any fault is a `RelayConfigError` naming file and field. */
export async function loadRelayConfig(routesPath: string, app: AppConfig): Promise<RelayConfig> {
  return resolveRelayConfig(await loadRoutesFile(routesPath), app, routesPath);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new RelayConfigError(`${path}: cannot be read (${(cause as Error).message})`, { file: path }, { cause });
  }
}
