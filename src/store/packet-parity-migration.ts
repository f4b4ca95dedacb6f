import type { DuckDBConnection } from '@duckdb/node-api';

/** The columns packet_parity_rows stores as numbers, each with the name column of earlier stores and its field. */
const NAMED = [
  { number: 'device_no', name: 'device' },
  { number: 'backend_no', name: 'backend' },
  { number: 'ack_kind_no', name: 'ack_kind' },
] as const;

/**
 * Stores made before packet_parity became a view over packet_parity_rows and packet_parity_names (schema.sql) hold
 * its rows in a table of their own, with the device, backend and ACK kind as names: `packet_parity_stored` under a
 * view; older, `packet_parity` itself with generated latencies; older still, the same with every latency and flag
 * stored and no ACK times. Such a table is renamed, the schema made, each run's names numbered, and its rows carried
 * over by name, column by column as far as it has them: an ACK time it lacks is its send time plus the latency stored
 * for it, in whole nanoseconds as it was taken; a column older stores never had stays NULL. One transaction: a store
 * is migrated whole or not at all. Runs before the schema is made, whose view could not replace such a table; a store
 * with neither table is left as it is.
 */
export async function migratePacketParity(connection: DuckDBConnection, schemaSql: string, starting: (rows: number) => void = () => {}): Promise<boolean> {
  const before = await tableHoldingRows(connection);
  if (before === undefined) return false;
  const had = await columnsOf(connection, before);
  const rows = await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${before}`);
  starting(Number(rows.getRowObjectsJS()[0]?.n ?? 0));
  // A view over the table (packet_parity over packet_parity_stored) goes first: the schema makes it again.
  const view = before === 'packet_parity' ? '' : 'DROP VIEW IF EXISTS packet_parity;\n';
  await connection.run(`BEGIN TRANSACTION;\n${view}ALTER TABLE ${before} RENAME TO packet_parity_before;\n${schemaSql}`);
  await connection.run(`INSERT INTO packet_parity_names
SELECT run_id, field, row_number() OVER (PARTITION BY run_id, field ORDER BY name)::INTEGER, name
FROM (${NAMED.map(({ name }) => `SELECT DISTINCT run_id, '${name}' AS field, ${name} AS name FROM packet_parity_before WHERE ${name} IS NOT NULL`).join('\nUNION ALL ')})`);
  // The stored table's columns are read from the schema just made, inside the transaction: one list, schema.sql's.
  const carried = [...(await columnsOf(connection, 'packet_parity_rows'))].flatMap((column) => {
    if (had.has(column)) return [`p.${column}`];
    const named = NAMED.find((n) => n.number === column);
    if (named !== undefined) return [`${named.name}.no AS ${column}`];
    const latency = column === 'ack_ns' ? 'ack_latency_ms' : column === 'device_ack_ns' ? 'round_trip_ms' : undefined;
    return latency !== undefined && had.has(latency) ? [`p.sent_ns + round(p.${latency} * 1e6)::BIGINT AS ${column}`] : [];
  });
  const joins = NAMED.map(({ name }) => `LEFT JOIN packet_parity_names ${name} ON ${name}.run_id = p.run_id AND ${name}.field = '${name}' AND ${name}.name = p.${name}`);
  await connection.run(`INSERT INTO packet_parity_rows BY NAME SELECT ${carried.join(', ')} FROM packet_parity_before p
${joins.join('\n')};
DROP TABLE packet_parity_before;
COMMIT;`);
  return true;
}

/** The table an earlier store keeps packet_parity's rows in, if it has one. */
async function tableHoldingRows(connection: DuckDBConnection): Promise<string | undefined> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN ('packet_parity', 'packet_parity_stored')`,
  );
  const tables = reader.getRowObjectsJS().map((row) => String(row.table_name));
  return tables.find((t) => t === 'packet_parity') ?? tables[0];
}

async function columnsOf(connection: DuckDBConnection, table: string): Promise<Set<string>> {
  const reader = await connection.runAndReadAll(
    `SELECT column_name FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $table`,
    { table },
  );
  return new Set(reader.getRowObjectsJS().map((row) => String(row.column_name)));
}
