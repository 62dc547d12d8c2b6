/**
 * The token ids a run stored for its done samples, prompt and generated, in position order: what a
 * run at another precision is fed to route the same tokens (harness/runner/routing-agreement.ts).
 */
import { listValue, type DuckDBConnection } from '@duckdb/node-api';

export interface StoredSampleTokens {
  /** Every stored position's token id, the prompt's first. */
  ids: number[];
  /** How many of them are the prompt's. */
  promptTokens: number;
}

/** The done samples of `runId` among `docIds`, by doc id. */
export async function storedSampleTokens(conn: DuckDBConnection, runId: string, docIds: readonly string[]): Promise<Map<string, StoredSampleTokens>> {
  const out = new Map<string, StoredSampleTokens>();
  if (docIds.length === 0) return out;
  const reader = await conn.runAndReadAll(
    `SELECT t.doc_id, list(t.token_id::INTEGER ORDER BY t.position) AS ids, count(*) FILTER (WHERE t.phase = 'prompt')::INTEGER AS prompt_tokens
     FROM tokens t JOIN samples s USING (run_id, doc_id)
     WHERE t.run_id = $1 AND s.status = 'done' AND t.doc_id IN (SELECT unnest($2::VARCHAR[]))
     GROUP BY t.doc_id`,
    [runId, listValue([...docIds])],
  );
  for (const r of reader.getRowObjectsJS()) {
    out.set(String(r.doc_id), { ids: (r.ids as unknown[]).map(Number), promptTokens: Number(r.prompt_tokens) });
  }
  return out;
}
