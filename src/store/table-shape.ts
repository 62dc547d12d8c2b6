/**
 * A study's tables checked column by column against what its schema version defines, before any
 * query reads them: a file changed outside flexibench (a column dropped, retyped, made nullable,
 * reordered) is refused in one line naming the table and the column, instead of failing with a
 * DuckDB Binder Error halfway through a report, or a write landing in the wrong column (the token
 * appender fills columns by position).
 *
 * What a version defines is read from an in-memory database migrated to it, so the check follows
 * the migrations in schema.ts without a second copy of the DDL.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { migrate } from './schema.ts';

export interface ColumnShape {
  table: string;
  column: string;
  /** DuckDB's type name: INTEGER, INTEGER[], JSON, TIMESTAMP WITH TIME ZONE, ... */
  type: string;
  nullable: boolean;
}

/** The columns of the base tables (not views) in the connection's own database, schema main, in column order. */
export async function readColumnShapes(conn: DuckDBConnection): Promise<ColumnShape[]> {
  const rows = (
    await conn.runAndReadAll(
      `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable
       FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
       WHERE c.database_name = current_database() AND c.schema_name = 'main'
       ORDER BY c.table_name, c.column_index`,
    )
  ).getRowObjectsJS();
  return rows.map((r) => ({ table: String(r.table_name), column: String(r.column_name), type: String(r.data_type), nullable: r.is_nullable === true }));
}

const expectedByVersion = new Map<number, Promise<ColumnShape[]>>();

async function migratedShapes(version: number): Promise<ColumnShape[]> {
  const instance = await DuckDBInstance.create(':memory:');
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await migrate(conn, 0, version);
    return await readColumnShapes(conn);
  } finally {
    conn?.closeSync();
    instance.closeSync();
  }
}

/** The columns schema `version` defines (computed once per version and process). */
export function expectedColumnShapes(version: number): Promise<ColumnShape[]> {
  let shapes = expectedByVersion.get(version);
  if (shapes === undefined) {
    const computing = migratedShapes(version);
    // A failure is not cached: the next study opened tries again.
    computing.catch(() => {
      if (expectedByVersion.get(version) === computing) expectedByVersion.delete(version);
    });
    expectedByVersion.set(version, (shapes = computing));
  }
  return shapes;
}

const ofTable = (shapes: readonly ColumnShape[], table: string): ColumnShape[] => shapes.filter((s) => s.table === table);

/**
 * How the `tables` of `actual` differ from `expected` (schema `version`), as the first difference
 * found, or null when they match: same columns, same order, same types, same NOT NULL.
 */
export function shapeDifference(expected: readonly ColumnShape[], actual: readonly ColumnShape[], tables: readonly string[], version: number): string | null {
  const defines = `schema version ${version}`;
  for (const table of tables) {
    const want = ofTable(expected, table);
    const have = ofTable(actual, table);
    if (have.length === 0) return `${table} is not a table (${defines} defines it as one)`;
    for (const w of want) {
      if (!have.some((h) => h.column === w.column)) return `table ${table} has no column ${w.column}, which ${defines} defines`;
    }
    for (const h of have) {
      if (!want.some((w) => w.column === h.column)) return `table ${table} has a column ${h.column}, which ${defines} does not define`;
    }
    for (const [i, w] of want.entries()) {
      const h = have.find((x) => x.column === w.column) as ColumnShape;
      if (h.type !== w.type) return `column ${table}.${w.column} is ${h.type}, ${defines} defines ${w.type}`;
      if (h.nullable !== w.nullable)
        return `column ${table}.${w.column} ${h.nullable ? 'admits NULL' : 'is NOT NULL'}, ${defines} defines it ${w.nullable ? 'nullable' : 'NOT NULL'}`;
      const at = have.indexOf(h);
      if (at !== i) return `column ${table}.${w.column} is column ${at + 1}, ${defines} has it as column ${i + 1}`;
    }
  }
  return null;
}
