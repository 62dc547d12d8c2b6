/**
 * The study database's schema and its migrations. `schema_version` records how far a file has been
 * migrated; a file from a newer flexibench, or a DuckDB file that is not a study at all, is refused
 * rather than altered (see database-file.ts).
 *
 * Design choices that are not obvious from the DDL:
 * - `tokens` has no UNIQUE (run_id, doc_id, position) index. DuckDB keeps an ART index in memory and
 *   maintains it on every append; a study holds millions of token rows, so the index would cost
 *   hundreds of MB and roughly a third of each sample's write time. Uniqueness holds by construction
 *   instead: tokens are only written in the transaction that inserts their sample row (which IS
 *   unique on (run_id, doc_id)), an earlier 'error' row's tokens are deleted in that same
 *   transaction, and StudyDb.writeSample requires positions 0..n-1 in order.
 * - No foreign keys: DuckDB checks them through the same kind of index, and writes go through one
 *   class that checks the run exists.
 * - JSON columns hold what is only ever read back whole (configs, versions, metrics).
 * - `tokens.text` is the token's display piece (a character split over several tokens shows on the
 *   token that completes it); `tokens.bytes` (version 2) is the token's own bytes, exact for byte
 *   tokens that hold part of a character. Rows written before version 2 have NULL bytes: the file
 *   does not hold the tokenizer that made them, so migrating cannot fill them in.
 * - `routing_agreement` (version 4) is how a run at a lossy weight precision routes the tokens its
 *   fp32 counterpart generated: one row per sample, counts only, since the per-token decisions of
 *   both runs can be recomputed from the stored tokens and the graphs.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { VARIANTS_SQL } from '../model/variants.ts';

export const SCHEMA_VERSION = 4;

/**
 * The `runs` table as version 3 has it; the same columns in the same order as versions 1-2, plus
 * `comparator`, and every variant admitted (VARIANTS_SQL).
 */
const RUNS_V3 = `(
       run_id VARCHAR PRIMARY KEY,
       model_hash VARCHAR NOT NULL,
       variant VARCHAR NOT NULL CHECK (variant IN ${VARIANTS_SQL}),
       suite VARCHAR NOT NULL,
       suite_config_hash VARCHAR NOT NULL,
       seed BIGINT NOT NULL,
       doc_limit INTEGER,
       threshold DOUBLE NOT NULL,
       generation JSON NOT NULL,
       identity JSON NOT NULL,
       model_dir VARCHAR NOT NULL,
       layers_total INTEGER NOT NULL,
       routing_layers INTEGER[] NOT NULL,
       suite_config JSON,
       git_revision VARCHAR,
       package_versions JSON NOT NULL,
       hardware JSON NOT NULL,
       execution_provider VARCHAR NOT NULL,
       threads JSON NOT NULL,
       started_at TIMESTAMPTZ NOT NULL,
       ended_at TIMESTAMPTZ,
       comparator JSON
     )`;

/** Statements that take a database from version `to - 1` to `to`; index i migrates to i + 1. */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE schema_version (
       version INTEGER NOT NULL,
       migrated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
     )`,
    `CREATE TABLE runs (
       run_id VARCHAR PRIMARY KEY,
       model_hash VARCHAR NOT NULL,
       variant VARCHAR NOT NULL CHECK (variant IN ('full', 'flexidepth')),
       suite VARCHAR NOT NULL,
       suite_config_hash VARCHAR NOT NULL,
       seed BIGINT NOT NULL,
       doc_limit INTEGER,
       threshold DOUBLE NOT NULL,
       generation JSON NOT NULL,
       identity JSON NOT NULL,
       model_dir VARCHAR NOT NULL,
       layers_total INTEGER NOT NULL,
       routing_layers INTEGER[] NOT NULL,
       suite_config JSON,
       git_revision VARCHAR,
       package_versions JSON NOT NULL,
       hardware JSON NOT NULL,
       execution_provider VARCHAR NOT NULL,
       threads JSON NOT NULL,
       started_at TIMESTAMPTZ NOT NULL,
       ended_at TIMESTAMPTZ
     )`,
    `CREATE TABLE samples (
       run_id VARCHAR NOT NULL,
       doc_id VARCHAR NOT NULL,
       doc_index INTEGER NOT NULL,
       prompt VARCHAR NOT NULL,
       output VARCHAR NOT NULL,
       reference VARCHAR NOT NULL,
       metrics JSON NOT NULL,
       prompt_tokens INTEGER NOT NULL,
       generated_tokens INTEGER NOT NULL,
       prefill_ms DOUBLE NOT NULL,
       decode_ms DOUBLE NOT NULL,
       stop_reason VARCHAR NOT NULL,
       status VARCHAR NOT NULL CHECK (status IN ('done', 'error')),
       error VARCHAR,
       written_at TIMESTAMPTZ NOT NULL,
       UNIQUE (run_id, doc_id)
     )`,
    `CREATE TABLE tokens (
       run_id VARCHAR NOT NULL,
       doc_id VARCHAR NOT NULL,
       position INTEGER NOT NULL,
       token_id INTEGER NOT NULL,
       text VARCHAR NOT NULL,
       phase VARCHAR NOT NULL CHECK (phase IN ('prompt', 'generated')),
       layers_used SMALLINT NOT NULL,
       mask BOOLEAN[] NOT NULL,
       gates FLOAT[] NOT NULL
     )`,
  ],
  [
    // Prompts cut from the left to fit the max length (0 for rows written before truncation existed:
    // they were never cut). DuckDB cannot add a column with a NOT NULL constraint.
    'ALTER TABLE samples ADD COLUMN truncated_tokens INTEGER DEFAULT 0',
    // Each token's own bytes (token-rows.ts). ADD COLUMN appends, so migrated and new files have the
    // same column order, which the token appender relies on.
    'ALTER TABLE tokens ADD COLUMN bytes BLOB',
  ],
  [
    // The comparator variants (static, random) and what each comparator run was matched to and how
    // (`comparator`: removed layers and their Block Influence, or the per-layer draw rates). DuckDB
    // cannot alter a CHECK constraint, so the table is rebuilt; runs has no indexes beside its key.
    `CREATE TABLE runs_v3 ${RUNS_V3}`,
    'INSERT INTO runs_v3 SELECT *, NULL FROM runs',
    'DROP TABLE runs',
    'ALTER TABLE runs_v3 RENAME TO runs',
  ],
  [
    // Per sample of a flexidepth run at a lossy precision (run-identity.ts): fp32's generated tokens
    // fed through this run's graph and the fp32 run's (reference_run_id), and how many of the routed
    // decisions at their producing positions agreed.
    `CREATE TABLE routing_agreement (
       run_id VARCHAR NOT NULL,
       doc_id VARCHAR NOT NULL,
       reference_run_id VARCHAR NOT NULL,
       decisions INTEGER NOT NULL,
       identical INTEGER NOT NULL,
       written_at TIMESTAMPTZ NOT NULL,
       UNIQUE (run_id, doc_id)
     )`,
  ],
];

/**
 * Views that show a file of an older version as the current version, for reading it without
 * migrating it (`report` on a study written by an older flexibench). They live in DuckDB's
 * in-memory temp catalog, which shadows the file's tables and works on a READ_ONLY connection;
 * nothing is written to the file. `catalog` is the file's database name.
 */
export function currentVersionViews(version: number, catalog: string): string[] {
  const table = (name: string): string => `"${catalog.replaceAll('"', '""')}".main.${name}`;
  const views: string[] = [];
  if (version < 2) {
    views.push(`CREATE TEMP VIEW samples AS SELECT *, 0 AS truncated_tokens FROM ${table('samples')}`);
    views.push(`CREATE TEMP VIEW tokens AS SELECT *, NULL::BLOB AS bytes FROM ${table('tokens')}`);
  }
  if (version < 3) views.push(`CREATE TEMP VIEW runs AS SELECT *, NULL::JSON AS comparator FROM ${table('runs')}`);
  if (version < 4) {
    views.push(
      `CREATE TEMP VIEW routing_agreement AS SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS doc_id, NULL::VARCHAR AS reference_run_id,
         NULL::INTEGER AS decisions, NULL::INTEGER AS identical, NULL::TIMESTAMPTZ AS written_at WHERE false`,
    );
  }
  return views;
}

/** The tables a study database holds at the current version; anything else means a foreign file. */
export const STUDY_TABLES: ReadonlySet<string> = new Set(['schema_version', 'runs', 'samples', 'tokens', 'routing_agreement']);

/** The tables a study of `version` holds: routing_agreement came with version 4. */
export function studyTablesOf(version: number): string[] {
  return [...STUDY_TABLES].filter((t) => version >= 4 || t !== 'routing_agreement');
}

/** Every table and view in the connection's own database, schema-qualified unless in `main`. */
export async function readTableNames(conn: DuckDBConnection): Promise<string[]> {
  const rows = (
    await conn.runAndReadAll(
      `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()
       UNION ALL
       SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
       ORDER BY 1, 2`,
    )
  ).getRowObjectsJS();
  return rows.map((r) => (r.schema_name === 'main' ? String(r.table_name) : `${String(r.schema_name)}.${String(r.table_name)}`));
}

/** The version a study's schema_version table records (0 when empty); its columns must have been checked first (table-shape.ts). */
export async function readSchemaVersion(conn: DuckDBConnection): Promise<number> {
  const v = (await conn.runAndReadAll('SELECT max(version)::INTEGER AS v FROM schema_version')).getRowObjectsJS()[0]?.v;
  return typeof v === 'number' ? v : 0;
}

/**
 * Applies the migrations after `from`, up to `to`, in one transaction, so a crash leaves the old
 * version intact. A `to` below the current version is for tests that need a file as an older
 * flexibench wrote it.
 */
export async function migrate(conn: DuckDBConnection, from: number, to: number = SCHEMA_VERSION): Promise<void> {
  if (to > SCHEMA_VERSION) throw new Error(`migrate: no schema version ${to} (the latest is ${SCHEMA_VERSION})`);
  if (from >= to) return;
  await conn.run('BEGIN TRANSACTION');
  try {
    for (let v = from; v < to; v++) {
      for (const sql of MIGRATIONS[v] as readonly string[]) await conn.run(sql);
    }
    await conn.run('INSERT INTO schema_version (version) VALUES ($1)', [to]);
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK');
    throw err;
  }
}
