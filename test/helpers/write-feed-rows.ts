// Writes stringRows(count), with a column of every other kind beside them, into table `t` of a new store through a
// feed (openChunkAppender), committing every 3,000 rows: run as a process of its own so that the C feed can be turned
// off for it (PARITY_DUCKDB_FEED=js). Prints which path wrote.
import { openChunkAppender } from '../../src/store/chunk-appender.ts';
import { nativeFeedInUse } from '../../src/store/native-feed-queue.ts';
import { Store } from '../../src/store/store.ts';
import { feedRowNumbers } from './feed-row-numbers.ts';
import { stringRows } from './string-values.ts';

const [path, count] = process.argv.slice(2);
const store = await Store.open(path as string);
await store.exec('CREATE TABLE t (id INTEGER, n UINTEGER, big BIGINT, x DOUBLE, flag BOOLEAN, small UTINYINT, text VARCHAR, bytes BLOB)');
const writer = await openChunkAppender(store, 't', ['i32', 'u32', 'i64', 'f64', 'bool', 'u8', 'varchar', 'blob']);
for (const row of stringRows(Number(count))) {
  const numbers = feedRowNumbers(row.id);
  writer.setNumber(0, row.id);
  if (numbers.n === null) writer.setNull(1);
  else writer.setNumber(1, numbers.n);
  writer.setBigInt(2, numbers.big);
  writer.setNumber(3, numbers.x);
  writer.setBoolean(4, numbers.flag);
  writer.setNumber(5, numbers.small);
  if (row.text === null) writer.setNull(6);
  else writer.setString(6, row.text);
  if (row.bytes === null) writer.setNull(7);
  else writer.setBytes(7, row.bytes);
  writer.endRow();
  if (row.id % 3000 === 2999) {
    writer.flush();
    await writer.ready();
  }
}
await writer.finish();
store.close();
process.stdout.write(nativeFeedInUse() ? 'c\n' : 'js\n');
