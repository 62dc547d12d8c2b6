/**
 * The stored samples of some runs in the shape of `run --log-samples` lines, for a sample log that
 * lacks some of them (its write failed after the sample was committed, or an earlier invocation ran
 * without the log): the log catches up from the study, the one record of what was stored.
 */
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import type { Variant } from '../model/variants.ts';
import { GENERATED_WITH_PRODUCER } from './producing-positions.ts';

export interface StoredSampleLogRow {
  suite: string;
  variant: Variant;
  threshold: number;
  /** The weights' precision (fp32 for runs from before precisions). */
  precision: string;
  run_id: string;
  doc_id: string;
  doc_index: number;
  prompt: string;
  output: string;
  reference: string;
  metrics: Record<string, number | string>;
  status: 'done' | 'error';
  error: string | null;
  prompt_tokens: number;
  truncated_tokens: number;
  generated_tokens: number;
  /** Mean producing-position depth over the generated tokens (producing-positions.ts); null without any. */
  layers_used_mean: number | null;
}

/** The samples of `runIds` as log rows, in run then document order. */
export async function storedSampleLogRows(conn: DuckDBConnection, runIds: readonly string[]): Promise<StoredSampleLogRow[]> {
  if (runIds.length === 0) return [];
  const reader = await conn.runAndReadAll(
    `WITH wanted AS (SELECT unnest($1::VARCHAR[]) AS run_id),
          depth AS (SELECT g.run_id, g.doc_id, avg(p.layers_used)::DOUBLE AS layers_used_mean
                    ${GENERATED_WITH_PRODUCER} AND g.run_id IN (SELECT run_id FROM wanted) GROUP BY g.run_id, g.doc_id)
     SELECT r.suite, r.variant, r.threshold::DOUBLE AS threshold,
            coalesce(r.identity->>'precision', 'fp32') AS precision, s.run_id, s.doc_id, s.doc_index::INTEGER AS doc_index,
            s.prompt, s.output, s.reference, s.metrics::VARCHAR AS metrics, s.status, s.error,
            s.prompt_tokens::INTEGER AS prompt_tokens, s.truncated_tokens::INTEGER AS truncated_tokens,
            s.generated_tokens::INTEGER AS generated_tokens, d.layers_used_mean
     FROM samples s JOIN runs r USING (run_id) LEFT JOIN depth d USING (run_id, doc_id)
     WHERE s.run_id IN (SELECT run_id FROM wanted)
     ORDER BY s.run_id, s.doc_index`,
    [listValue([...runIds])],
  );
  return reader
    .getRowObjectsJS()
    .map((row) => ({ ...(row as unknown as StoredSampleLogRow), metrics: JSON.parse(String(row['metrics'])) as StoredSampleLogRow['metrics'] }));
}
