import { readYamlSource, type YamlSource } from '../core/yaml-file.ts';
import { isHttpScenario, parseHttpScenario, type HttpScenarioSpec } from './http/http-scenario-spec.ts';
import { parseScenario, type ScenarioSpec } from './scenario-spec.ts';
import { isPgScenario, parsePgScenario, type PgScenarioSpec } from './pg/pg-scenario-spec.ts';
import { isWsScenario, parseWsScenario, type WsScenarioSpec } from './ws/ws-scenario-spec.ts';

/** Reads and validates a scenario YAML file; faults name the file, the line and the key. */
export async function loadScenario(path: string): Promise<ScenarioSpec> {
  const loaded = await loadAnyScenario(path);
  if (loaded.protocol === 'http' || loaded.protocol === 'ws' || loaded.protocol === 'pg') throw new Error(`${path}: a ${loaded.protocol} scenario, read with loadAnyScenario`);
  return loaded;
}

/** A scenario of any protocol family: `protocol: http` is a shadowing proxy's, `ws` a relay agent's, `pg` a mirroring pooler's, anything else a UDP relay's. */
export async function loadAnyScenario(path: string): Promise<ScenarioSpec | HttpScenarioSpec | WsScenarioSpec | PgScenarioSpec> {
  const source = await readYamlSource(path);
  const lineOf: YamlSource['lineOf'] = (key) => source.lineOf(key);
  if (isWsScenario(source.value)) return parseWsScenario(source.value, path, lineOf);
  if (isPgScenario(source.value)) return parsePgScenario(source.value, path, lineOf);
  return isHttpScenario(source.value) ? parseHttpScenario(source.value, path, lineOf) : parseScenario(source.value, path, lineOf);
}
