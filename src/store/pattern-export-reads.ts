/**
 * The reads behind `flexibench export-patterns` (reports/export-patterns.ts): the runs an export
 * covers with their row counts, and the two COPY statements that write the dataset's Parquet files
 * with DuckDB's own writer. The column lists here are the dataset's contract; the JSON Schemas in
 * reports/pattern-schemas/ describe the same columns, and the export refuses to finish when the
 * written files and the schemas disagree.
 *
 * Rows are exported as stored: a token row's depth is the depth spent at that position, i.e. the
 * pass that produced the NEXT token (docs/method.md, "Which token a depth belongs to"). The dataset
 * card explains how to shift it; the export does not mix in the producing-position reading.
 *
 * A token's bytes go out as lowercase hex text, not a Parquet BLOB: the row then has a JSON form the
 * schema can state and validate, and every reader shows the same thing (binary columns come out as
 * bytes, base64 or escaped text depending on the tool); unhex() or bytes.fromhex() give the bytes.
 * Rows written before the store had the column (schema version 2) export NULL there.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../sql-literal.ts';
import { readRuns, type StoredRun } from './summary-reads.ts';

/** What one run of the study contributes: the run as stored, with its row counts. */
export interface ExportRun extends StoredRun {
  samples: number;
  error_samples: number;
  tokens: number;
  /** Token rows stored without bytes (written before the store kept them). */
  tokens_without_bytes: number;
}

/** Row order of data/tokens.parquet: runs grouped as a reader compares them, then document order. */
export const TOKEN_ORDER = ['model_hash', 'suite', 'variant', 'threshold', 'precision', 'block_size', 'run_id', 'doc_index', 'doc_id', 'position'] as const;
/** Row order of data/samples.parquet. */
export const SAMPLE_ORDER = ['model_hash', 'suite', 'variant', 'threshold', 'precision', 'block_size', 'run_id', 'doc_index', 'doc_id'] as const;

// Aliases: t = tokens, s = samples, r = runs. Types are cast explicitly so the Parquet types do not
// follow a later change of the store's column types silently.
const TOKEN_SELECT = `
  SELECT t.run_id::VARCHAR AS run_id, r.model_hash::VARCHAR AS model_hash, r.suite::VARCHAR AS suite,
         r.variant::VARCHAR AS variant, r.threshold::DOUBLE AS threshold,
         coalesce(r.identity->>'precision', 'fp32')::VARCHAR AS precision, TRY_CAST(r.identity->>'block_size' AS INTEGER) AS block_size,
         t.doc_id::VARCHAR AS doc_id, s.doc_index::INTEGER AS doc_index, t.position::INTEGER AS position,
         t.token_id::INTEGER AS token_id, t.text::VARCHAR AS token_text, lower(hex(t.bytes))::VARCHAR AS token_bytes,
         t.phase::VARCHAR AS phase,
         t.layers_used::SMALLINT AS layers_used, r.layers_total::SMALLINT AS layers_total,
         t.mask::BOOLEAN[] AS mask, t.gates::FLOAT[] AS gates
  FROM tokens t
  JOIN runs r ON r.run_id = t.run_id
  JOIN samples s ON s.run_id = t.run_id AND s.doc_id = t.doc_id
  WHERE list_contains(from_json($1, '["VARCHAR"]'), r.suite)`;

const SAMPLE_SELECT = `
  SELECT s.run_id::VARCHAR AS run_id, r.model_hash::VARCHAR AS model_hash, r.suite::VARCHAR AS suite,
         r.variant::VARCHAR AS variant, r.threshold::DOUBLE AS threshold,
         coalesce(r.identity->>'precision', 'fp32')::VARCHAR AS precision, TRY_CAST(r.identity->>'block_size' AS INTEGER) AS block_size,
         s.doc_id::VARCHAR AS doc_id, s.doc_index::INTEGER AS doc_index,
         s.status::VARCHAR AS status, s.error::VARCHAR AS error,
         s.prompt::VARCHAR AS prompt, s.output::VARCHAR AS output, s.reference::VARCHAR AS reference,
         s.metrics::VARCHAR AS metrics,
         s.prompt_tokens::INTEGER AS prompt_tokens, s.truncated_tokens::INTEGER AS truncated_tokens,
         s.generated_tokens::INTEGER AS generated_tokens,
         s.prefill_ms::DOUBLE AS prefill_ms, s.decode_ms::DOUBLE AS decode_ms, s.stop_reason::VARCHAR AS stop_reason,
         r.layers_total::SMALLINT AS layers_total, r.routing_layers::SMALLINT[] AS routing_layers
  FROM samples s
  JOIN runs r ON r.run_id = s.run_id
  WHERE list_contains(from_json($1, '["VARCHAR"]'), r.suite)`;

/**
 * Writer options pinned rather than left to DuckDB's defaults, so a default changing between
 * versions shows up as a deliberate edit here. Together with a total ORDER BY and one thread
 * (see copyPatternFiles) the bytes depend only on the study and the DuckDB version.
 */
const PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, PARQUET_VERSION v1';

type Row = Record<string, unknown>;

/** Every suite name in the study, sorted. */
export async function readStudySuites(conn: DuckDBConnection): Promise<string[]> {
  const rows = (await conn.runAndReadAll('SELECT DISTINCT suite FROM runs ORDER BY suite')).getRowObjectsJS() as Row[];
  return rows.map((r) => String(r.suite));
}

const RUN_COUNTS_SQL = `
  SELECT r.run_id,
         (SELECT count(*) FROM samples s WHERE s.run_id = r.run_id)::INTEGER AS samples,
         (SELECT count(*) FROM samples s WHERE s.run_id = r.run_id AND s.status = 'error')::INTEGER AS error_samples,
         (SELECT count(*) FROM tokens t WHERE t.run_id = r.run_id)::INTEGER AS tokens,
         (SELECT count(*) FROM tokens t WHERE t.run_id = r.run_id AND t.bytes IS NULL)::INTEGER AS tokens_without_bytes
  FROM runs r`;

/** The runs of `suites` with their sample and token counts, in the order the files list them. */
export async function readExportRuns(conn: DuckDBConnection, suites: readonly string[]): Promise<ExportRun[]> {
  const sql = RUN_COUNTS_SQL;
  const counts = new Map(((await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[]).map((r) => [String(r.run_id), r]));
  const runs = (await readRuns(conn)).filter((r) => suites.includes(r.suite));
  const order = (r: StoredRun): (string | number)[] => [
    r.model_hash,
    r.suite,
    r.variant,
    r.threshold,
    r.precision,
    r.block_size ?? Number.MAX_SAFE_INTEGER,
    r.run_id,
  ];
  runs.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    const i = x.findIndex((v, k) => v !== y[k]);
    return i < 0 ? 0 : (x[i] as string | number) < (y[i] as string | number) ? -1 : 1;
  });
  return runs.map((r) => {
    const c = counts.get(r.run_id);
    return {
      ...r,
      samples: Number(c?.samples ?? 0),
      error_samples: Number(c?.error_samples ?? 0),
      tokens: Number(c?.tokens ?? 0),
      tokens_without_bytes: Number(c?.tokens_without_bytes ?? 0),
    };
  });
}

export interface CopiedRows {
  tokens: number;
  samples: number;
}

/**
 * Writes the runs of `suites` to `tokensFile` and `samplesFile` (absolute paths). `spillDir` is
 * where DuckDB may spill a sort too large for memory: by default it would create `<study>.tmp`
 * beside the study file, and an export must leave the study's folder untouched.
 */
export async function copyPatternFiles(
  conn: DuckDBConnection,
  files: { tokensFile: string; samplesFile: string; spillDir: string },
  suites: readonly string[],
): Promise<CopiedRows> {
  const param = [JSON.stringify(suites)];
  const tokenSql = TOKEN_SELECT;
  // One thread: DuckDB orders a parallel COPY's output, but row-group boundaries and the order
  // batches are flushed in are not a documented promise; a single thread makes them one.
  await conn.run('SET threads = 1');
  await conn.run('SET preserve_insertion_order = true');
  await conn.run(`SET temp_directory = ${sqlString(files.spillDir)}`);
  try {
    const copy = async (select: string, order: readonly string[], file: string): Promise<number> => {
      const sql = `COPY (${select} ORDER BY ${order.join(', ')}) TO ${sqlString(file)} (${PARQUET_OPTIONS})`;
      const count = (await conn.runAndReadAll(sql, param)).getRowsJS()[0]?.[0];
      return Number(count);
    };
    return {
      tokens: await copy(tokenSql, TOKEN_ORDER, files.tokensFile),
      samples: await copy(SAMPLE_SELECT, SAMPLE_ORDER, files.samplesFile),
    };
  } finally {
    await conn.run('RESET threads');
    await conn.run('RESET preserve_insertion_order');
    await conn.run('RESET temp_directory');
  }
}

export interface ParquetColumn {
  name: string;
  /** As DuckDB reads it back, e.g. `SMALLINT`, `FLOAT[]`. */
  type: string;
}

/** The columns of a written Parquet file, in file order. */
export async function readParquetColumns(conn: DuckDBConnection, file: string): Promise<ParquetColumn[]> {
  const rows = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`)).getRowObjectsJS() as Row[];
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}
