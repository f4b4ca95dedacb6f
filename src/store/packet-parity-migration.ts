import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Stores made before packet_parity became a view over packet_parity_stored (schema.sql) hold it as a table: with
 * generated latencies, or, older still, with every latency and flag stored and no ACK times. Such a table is renamed,
 * the schema made (which creates the stored table and the view), and its rows carried over by name, column by column
 * as far as it has them: an ACK time it lacks is its send time plus the latency stored for it, in whole nanoseconds
 * as it was taken; a column older stores never had stays NULL. One transaction: a store is migrated whole or not at
 * all. Runs before the schema is made, whose view could not replace the table; a store whose packet_parity is not a
 * table is left as it is.
 */
export async function migratePacketParity(connection: DuckDBConnection, schemaSql: string, starting: (rows: number) => void = () => {}): Promise<boolean> {
  const table = await connection.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'packet_parity'`,
  );
  if (table.getRowObjectsJS()[0]?.n === 0) return false;
  const had = await columnsOf(connection, 'packet_parity');
  const rows = await connection.runAndReadAll('SELECT count(*)::BIGINT AS n FROM packet_parity');
  starting(Number(rows.getRowObjectsJS()[0]?.n ?? 0));
  // The stored table's columns are read from the schema just made, inside the transaction: one list, schema.sql's.
  await connection.run(`BEGIN TRANSACTION;\nALTER TABLE packet_parity RENAME TO packet_parity_before;\n${schemaSql}`);
  const carried = [...(await columnsOf(connection, 'packet_parity_stored'))].flatMap((column) => {
    if (had.has(column)) return [column];
    const latency = column === 'ack_ns' ? 'ack_latency_ms' : column === 'device_ack_ns' ? 'round_trip_ms' : undefined;
    return latency !== undefined && had.has(latency) ? [`sent_ns + round(${latency} * 1e6)::BIGINT AS ${column}`] : [];
  });
  await connection.run(`INSERT INTO packet_parity_stored BY NAME SELECT ${carried.join(', ')} FROM packet_parity_before;
DROP TABLE packet_parity_before;
COMMIT;`);
  return true;
}

async function columnsOf(connection: DuckDBConnection, table: string): Promise<Set<string>> {
  const reader = await connection.runAndReadAll(
    `SELECT column_name FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $table`,
    { table },
  );
  return new Set(reader.getRowObjectsJS().map((row) => String(row.column_name)));
}
