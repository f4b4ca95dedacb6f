import { readYamlSource, type YamlSource } from '../core/yaml-file.ts';
import { isHttpScenario, parseHttpScenario, type HttpScenarioSpec } from './http/http-scenario-spec.ts';
import { parseScenario, type ScenarioSpec } from './scenario-spec.ts';

/** Reads and validates a scenario YAML file; faults name the file, the line and the key. */
export async function loadScenario(path: string): Promise<ScenarioSpec> {
  const loaded = await loadAnyScenario(path);
  if (loaded.protocol === 'http') throw new Error(`${path}: an HTTP scenario, read with loadAnyScenario`);
  return loaded;
}

/** A scenario of any protocol family: `protocol: http` is a shadowing proxy's, anything else a UDP relay's. */
export async function loadAnyScenario(path: string): Promise<ScenarioSpec | HttpScenarioSpec> {
  const source = await readYamlSource(path);
  const lineOf: YamlSource['lineOf'] = (key) => source.lineOf(key);
  return isHttpScenario(source.value) ? parseHttpScenario(source.value, path, lineOf) : parseScenario(source.value, path, lineOf);
}
