import { parseDurationMs, parseFraction } from '../cli/option-parsers.ts';
import { readYamlFile } from '../core/yaml-file.ts';
import { parseScenario, type ScenarioSpec } from './scenario-spec.ts';

/** Reads and validates a scenario YAML file; faults name the file and the key. */
export async function loadScenario(path: string): Promise<ScenarioSpec> {
  return parseScenario(await readYamlFile(path), path, parseDurationMs, parseFraction);
}
