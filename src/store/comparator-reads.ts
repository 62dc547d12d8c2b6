/**
 * What the comparator runs are matched to, read from a study's FlexiDepth runs (docs/method.md,
 * "Comparators"): the routed layers FlexiDepth skipped per generated token (static's k), and each
 * routed layer's usage where it reads the prompt and where it produces (random's rates). Done
 * samples only; a generated token's depth is its producing position's (producing-positions.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { RateSet } from '../model/routing.ts';
import { sqlList } from '../sql-literal.ts';
import { GENERATED_WITH_PRODUCER } from './producing-positions.ts';

/** Mean routed layers skipped per generated token over the runs' done samples; null without generated tokens. */
export async function flexidepthSkipsMean(conn: DuckDBConnection, runIds: readonly string[]): Promise<{ mean: number | null; tokens: number }> {
  if (runIds.length === 0) return { mean: null, tokens: 0 };
  const row = (
    await conn.runAndReadAll(
      `SELECT count(*)::DOUBLE AS tokens, avg(len(p.mask) - coalesce(list_sum(p.mask::INTEGER[]), 0))::DOUBLE AS skipped
       ${GENERATED_WITH_PRODUCER} AND g.run_id IN ${sqlList(runIds)}`,
    )
  ).getRowObjectsJS()[0]!;
  const tokens = Number(row.tokens);
  return { mean: tokens === 0 ? null : Number(row.skipped), tokens };
}

/**
 * Per rate set (src/model/routing.ts: `producing` positions predict a generated token, `prompt`
 * positions are the rest of the prompt), the share of the run's positions on which each of its
 * `routed` layers took the full path (layer order). The last position of a sample produces nothing
 * and is not counted. A set with no positions gets the other's rates; null when the run has none.
 */
export async function routedUsageByRateSet(conn: DuckDBConnection, runId: string, routed: number): Promise<Record<RateSet, number[]> | null> {
  const rows = (
    await conn.runAndReadAll(
      `SELECT CASE WHEN next_phase = 'generated' THEN 'producing' ELSE 'prompt' END AS rate_set, r::INTEGER AS r, avg(m::INTEGER)::DOUBLE AS usage
       FROM (SELECT unnest(t.mask) AS m, unnest(range(len(t.mask))) AS r,
                    lead(t.phase) OVER (PARTITION BY t.doc_id ORDER BY t.position) AS next_phase
             FROM tokens t JOIN samples s ON s.run_id = t.run_id AND s.doc_id = t.doc_id AND s.status = 'done'
             WHERE t.run_id = $1)
       WHERE next_phase IS NOT NULL
       GROUP BY ALL`,
      [runId],
    )
  ).getRowObjectsJS();
  const rates = (set: RateSet): number[] | null => {
    const mine = rows.filter((row) => row.rate_set === set);
    if (mine.length === 0) return null;
    return Array.from({ length: routed }, (_, r) => Number(mine.find((row) => row.r === r)?.usage ?? 0));
  };
  const prompt = rates('prompt');
  const producing = rates('producing');
  if (prompt === null && producing === null) return null;
  return { prompt: prompt ?? producing!, producing: producing ?? prompt! };
}
