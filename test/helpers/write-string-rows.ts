// Writes stringRows(count) into table `t` of a new store through the store's ChunkAppender: run as a process of its own
// so that the C string path can be turned off for it (PARITY_DUCKDB_STRINGS=js). Prints which path wrote.
import { ChunkAppender } from '../../src/store/chunk-appender.ts';
import { duckdbStrings } from '../../src/store/duckdb-strings.ts';
import { Store } from '../../src/store/store.ts';
import { stringRows } from './string-values.ts';

const [path, count] = process.argv.slice(2);
const store = await Store.open(path as string);
await store.exec('CREATE TABLE t (id INTEGER, text VARCHAR, bytes BLOB)');
const { appender, release } = await store.createWriterAppender('t');
const writer = new ChunkAppender(appender, 't', ['i32', 'varchar', 'blob'], release);
for (const row of stringRows(Number(count))) {
  writer.setNumber(0, row.id);
  if (row.text === null) writer.setNull(1);
  else writer.setString(1, row.text);
  if (row.bytes === null) writer.setNull(2);
  else writer.setBytes(2, row.bytes);
  writer.endRow();
}
writer.close();
store.close();
process.stdout.write(duckdbStrings() === undefined ? 'js\n' : 'c\n');
