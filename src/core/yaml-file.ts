import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';

/** Reads a YAML file; a missing file or bad YAML is a ConfigError naming the file. An empty file reads as null. */
export async function readYamlFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${path}: cannot be read (${(cause as Error).message})`, { file: path }, { cause });
  }
  try {
    return parseYaml(text) ?? null;
  } catch (cause) {
    throw new ConfigError(`${path}: not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { file: path }, { cause });
  }
}
