/**
 * The reads behind the report's precision fidelity (reports/fidelity.ts): how often a run at a
 * lower weight precision wrote the same text as an fp32 run of the same suite, and how often it
 * routed fp32's tokens the same way (the `routing_agreement` rows the runner stores, schema.ts).
 *
 * Output agreement is read for every candidate pair (same model, suite, variant and threshold, one
 * side fp32, the other not) rather than for the pairs the report settles on: which runs pair is
 * decided once, in reports/, and the extra candidates cost a join over samples of the same suite.
 * Outputs are compared in SQL, byte for byte (DuckDB compares VARCHAR by its bytes), so no output
 * text is read into the report.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

/** Stored outputs of two runs, over the documents done in both. */
export interface OutputAgreement {
  /** Documents done in both runs. */
  docs: number;
  /** Of those, the documents whose stored outputs are byte-identical. */
  identical: number;
}

/** A run's routing_agreement rows against one fp32 run, summed. */
export interface RoutingAgreement {
  /** Samples with a row. */
  samples: number;
  /** Routed-layer decisions at the producing positions of fp32's generated tokens. */
  decisions: number;
  /** Of those, the decisions both graphs made alike. */
  identical: number;
}

export interface FidelityInputs {
  /** Keyed by agreementKey(run, its fp32 counterpart). */
  outputs: Map<string, OutputAgreement>;
  /** Keyed by agreementKey(run, reference_run_id). */
  routing: Map<string, RoutingAgreement>;
}

export const agreementKey = (runId: string, fp32RunId: string): string => `${runId}\u0000${fp32RunId}`;

type Row = Record<string, unknown>;

const OUTPUTS_SQL = `
  WITH r AS (SELECT run_id, model_hash, suite, variant, threshold, coalesce(identity->>'precision', 'fp32') AS precision FROM runs)
  SELECT p.run_id, f.run_id AS fp32_run_id,
         count(*)::INTEGER AS docs,
         count(*) FILTER (WHERE a.output = b.output)::INTEGER AS identical
  FROM r p
  JOIN r f ON f.model_hash = p.model_hash AND f.suite = p.suite AND f.variant = p.variant AND f.threshold = p.threshold
              AND f.precision = 'fp32' AND p.precision <> 'fp32'
  JOIN samples a ON a.run_id = p.run_id AND a.status = 'done'
  JOIN samples b ON b.run_id = f.run_id AND b.doc_id = a.doc_id AND b.status = 'done'
  GROUP BY p.run_id, f.run_id`;

const ROUTING_SQL = `
  SELECT run_id, reference_run_id, count(DISTINCT doc_id)::INTEGER AS samples,
         sum(decisions)::DOUBLE AS decisions, sum(identical)::DOUBLE AS identical
  FROM routing_agreement GROUP BY run_id, reference_run_id`;

export async function readFidelityInputs(conn: DuckDBConnection): Promise<FidelityInputs> {
  const rows = async (sql: string): Promise<Row[]> => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[];
  const outputs = new Map<string, OutputAgreement>();
  for (const r of await rows(OUTPUTS_SQL)) {
    outputs.set(agreementKey(String(r.run_id), String(r.fp32_run_id)), { docs: Number(r.docs), identical: Number(r.identical) });
  }
  const routing = new Map<string, RoutingAgreement>();
  for (const r of await rows(ROUTING_SQL)) {
    routing.set(agreementKey(String(r.run_id), String(r.reference_run_id)), {
      samples: Number(r.samples),
      decisions: Number(r.decisions),
      identical: Number(r.identical),
    });
  }
  return { outputs, routing };
}
