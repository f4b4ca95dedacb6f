import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The shared capture corpus (../shared/corpus, beside the project in CI). It is not part of the project: tests that
 * use it say plainly when it is absent instead of passing silently.
 */
export const CORPUS_DIR = resolve(process.env.PARITY_CORPUS_DIR ?? join(import.meta.dirname, '../../../shared/corpus'));

export interface CorpusEntry {
  file: string;
  path: string;
  format: string;
  endian: string;
  packets: number;
  udpFrames: number;
  errors: string;
}

export function corpusAvailable(): boolean {
  return existsSync(join(CORPUS_DIR, 'INDEX.tsv'));
}

export function loadCorpusIndex(): CorpusEntry[] {
  const lines = readFileSync(join(CORPUS_DIR, 'INDEX.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const [file = '', format = '', endian = '', packets = '0', udpFrames = '0', errors = ''] = line.split('\t');
    return { file, path: join(CORPUS_DIR, file), format, endian, packets: Number(packets), udpFrames: Number(udpFrames), errors };
  });
}
