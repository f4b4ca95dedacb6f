import { readFile } from 'node:fs/promises';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './errors.ts';

/** A YAML file's value, and where each key of it is written, so that a fault can name its line. */
export interface YamlSource {
  value: unknown;
  /** The line (1-based) of the key at `path` (`['replay', 'loop']`, `['timeline', 2, 'at']`), or of its nearest parent. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

/** Reads a YAML file; a missing file or bad YAML is a ConfigError naming the file (and the line). An empty file reads as null. */
export async function readYamlFile(path: string): Promise<unknown> {
  return (await readYamlSource(path)).value;
}

export async function readYamlSource(path: string): Promise<YamlSource> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${path}: cannot be read (${(cause as Error).message})`, { file: path }, { cause });
  }
  const lines = new LineCounter();
  // Warnings (a key that is a list, stringified) would go to stderr as Node's multi-line warnings; the file's checks
  // name what is wrong with such a key instead.
  const doc = parseDocument(text, { lineCounter: lines, logLevel: 'error' });
  const [error] = doc.errors;
  if (error !== undefined) {
    const line = error.linePos?.[0].line;
    throw new ConfigError(`${path}${line === undefined ? '' : `:${line}`}: not valid YAML: ${error.message.split('\n')[0]}`, { file: path });
  }
  const lineOf = (keyPath: readonly (string | number)[]): number | undefined => {
    for (let depth = keyPath.length; depth > 0; depth--) {
      const parent = depth === 1 ? doc.contents : doc.getIn(keyPath.slice(0, depth - 1), true);
      const last = keyPath[depth - 1];
      let start: number | undefined;
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
        if (pair !== undefined && isNode(pair.key)) start = pair.key.range?.[0];
      } else if (isSeq(parent) && typeof last === 'number') {
        const item = parent.items[last];
        if (isNode(item)) start = item.range?.[0];
      }
      if (start !== undefined) return lines.linePos(start).line;
    }
    return undefined;
  };
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (cause) {
    // What parses can still fail to resolve: an alias to an anchor set nowhere before it (`*a`), or too many aliases.
    throw new ConfigError(`${path}: not valid YAML: ${(cause as Error).message}`, { file: path }, { cause });
  }
  return { value: value ?? null, lineOf };
}

/** `replay.loop` -> ['replay', 'loop']; `timeline[2].at` -> ['timeline', 2, 'at']. */
export function keyPath(key: string): (string | number)[] {
  return key.split('.').flatMap((part): (string | number)[] => {
    const indexed = /^(.*?)((?:\[\d+\])+)$/.exec(part);
    if (indexed === null) return [part];
    const indexes = [...(indexed[2] as string).matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
    return [...(indexed[1] === '' ? [] : [indexed[1] as string]), ...indexes];
  });
}
