import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors.ts';
import { parseDurationMs, parseFraction } from '../cli/option-parsers.ts';
import { parseScenario, type ScenarioSpec } from './scenario-spec.ts';

/** Reads and validates a scenario YAML file; faults name the file and the key. */
export async function loadScenario(path: string): Promise<ScenarioSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${path}: cannot be read (${(cause as Error).message})`, { file: path }, { cause });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`${path}: not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { file: path }, { cause });
  }
  return parseScenario(parsed, path, parseDurationMs, parseFraction);
}
