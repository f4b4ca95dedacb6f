import { readYamlSource } from '../core/yaml-file.ts';
import { parseScenario, type ScenarioSpec } from './scenario-spec.ts';

/** Reads and validates a scenario YAML file; faults name the file, the line and the key. */
export async function loadScenario(path: string): Promise<ScenarioSpec> {
  const source = await readYamlSource(path);
  return parseScenario(source.value, path, (key) => source.lineOf(key));
}
