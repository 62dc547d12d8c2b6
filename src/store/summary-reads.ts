/**
 * The reads a study summary is built from (reports/summary.ts does the statistics): the runs with
 * their metadata, per-run sample totals, per-sample producing-position depth, per-sample metrics, and
 * how runs at a lower weight precision agree with fp32 (fidelity-reads.ts).
 *
 * Layer usage is per generated token with the producing-position depth (docs/method.md, "Which token
 * a depth belongs to"): generated token p was produced by the pass at position p-1, so its depth is
 * the row at p-1 (the last prompt position for the first generated token).
 */
import type { Variant } from '../model/variants.ts';
import { readFidelityInputs, type FidelityInputs } from './fidelity-reads.ts';
import { GENERATED_WITH_PRODUCER } from './producing-positions.ts';
import type { RunComparator } from './run-comparator.ts';
import type { DuckDBConnection } from '@duckdb/node-api';

/** A row of `runs`, decoded. */
export interface StoredRun {
  run_id: string;
  suite: string;
  variant: Variant;
  model_hash: string;
  model_dir: string;
  suite_config_hash: string;
  suite_config: unknown;
  seed: number;
  limit: number | null;
  threshold: number;
  /**
   * The weights' precision: 'fp32', 'fp16', 'int8' or 'int4'. fp32 runs, and every run of a study
   * written before precisions, store none in their identity (run-identity.ts) and read as 'fp32'.
   */
  precision: string;
  /** int8/int4 quantization block size when not the default (32); null otherwise. */
  block_size: number | null;
  generation: unknown;
  layers_total: number;
  routing_layers: number[];
  git_revision: string | null;
  execution_provider: string;
  package_versions: unknown;
  hardware: unknown;
  threads: unknown;
  started_at: string;
  ended_at: string | null;
  /** For `static` and `random` runs, what they were matched to and how (RunComparator); null otherwise. */
  comparator: RunComparator | null;
}

export interface SampleTotals {
  n_done: number;
  n_error: number;
  /** Done samples whose prompt was left-truncated to fit the max length. */
  n_truncated: number;
  prompt_tokens: number;
  generated_tokens: number;
  prefill_ms: number;
  decode_ms: number;
}

/** One done sample's generated tokens: their producing-position depths and routed decisions, summed. */
export interface SampleDepth {
  doc_id: string;
  generated: number;
  layers_used_sum: number;
  routed_on: number;
  routed_decisions: number;
}

/** One distinct reason samples of a run failed with, and how many did. */
export interface ErrorReason {
  reason: string;
  count: number;
}

export interface SummaryInputs {
  db: string;
  schema_version: number;
  runs: StoredRun[];
  totals: Map<string, SampleTotals>;
  /** Per run with failed samples, the distinct reasons, most frequent first. */
  errors: Map<string, ErrorReason[]>;
  /** Per run, its done samples in document order. */
  depth: Map<string, SampleDepth[]>;
  /** Per run: metric name -> (doc id -> value), finite numbers only, in document order. */
  metrics: Map<string, Map<string, Map<string, number>>>;
  /** Output and routing agreement of runs at a lower precision with fp32 runs. */
  fidelity: FidelityInputs;
}

type Row = Record<string, unknown>;

async function rows(conn: DuckDBConnection, sql: string): Promise<Row[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[];
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);

const RUNS_SQL = `
  SELECT run_id, suite, variant, model_hash, model_dir, suite_config_hash, suite_config::VARCHAR AS suite_config,
         seed::DOUBLE AS seed, doc_limit, threshold,
         coalesce(identity->>'precision', 'fp32') AS precision, TRY_CAST(identity->>'block_size' AS INTEGER) AS block_size,
         generation::VARCHAR AS generation, layers_total, routing_layers,
         git_revision, execution_provider, package_versions::VARCHAR AS package_versions,
         hardware::VARCHAR AS hardware, threads::VARCHAR AS threads, started_at, ended_at, comparator::VARCHAR AS comparator
  FROM runs ORDER BY started_at, run_id`;

const SAMPLE_TOTALS_SQL = `
  SELECT run_id,
         count(*) FILTER (WHERE status = 'done')::INTEGER AS n_done,
         count(*) FILTER (WHERE status = 'error')::INTEGER AS n_error,
         count(*) FILTER (WHERE status = 'done' AND truncated_tokens > 0)::INTEGER AS n_truncated,
         coalesce(sum(prompt_tokens) FILTER (WHERE status = 'done'), 0)::DOUBLE AS prompt_tokens,
         coalesce(sum(generated_tokens) FILTER (WHERE status = 'done'), 0)::DOUBLE AS generated_tokens,
         coalesce(sum(prefill_ms) FILTER (WHERE status = 'done'), 0)::DOUBLE AS prefill_ms,
         coalesce(sum(decode_ms) FILTER (WHERE status = 'done'), 0)::DOUBLE AS decode_ms
  FROM samples GROUP BY run_id`;

const SAMPLE_DEPTH_SQL = `
  SELECT g.run_id, g.doc_id,
         count(*)::DOUBLE AS generated,
         sum(p.layers_used)::DOUBLE AS layers_used_sum,
         sum(coalesce(list_sum(p.mask::INTEGER[]), 0))::DOUBLE AS routed_on,
         sum(len(p.mask))::DOUBLE AS routed_decisions
  ${GENERATED_WITH_PRODUCER}
  GROUP BY g.run_id, g.doc_id, s.doc_index
  ORDER BY g.run_id, s.doc_index, g.doc_id`;

const ERRORS_SQL = `
  SELECT run_id, coalesce(error, 'no reason stored') AS reason, count(*)::INTEGER AS count FROM samples
  WHERE status = 'error' GROUP BY run_id, reason ORDER BY run_id, count DESC, reason`;

const METRICS_SQL = `
  SELECT run_id, doc_id, metrics::VARCHAR AS metrics FROM samples
  WHERE status = 'done' ORDER BY run_id, doc_index, doc_id`;

function storedRun(r: Row): StoredRun {
  return {
    run_id: String(r.run_id),
    suite: String(r.suite),
    variant: r.variant as Variant,
    model_hash: String(r.model_hash),
    model_dir: String(r.model_dir),
    suite_config_hash: String(r.suite_config_hash),
    suite_config: json(r.suite_config),
    seed: num(r.seed),
    limit: numOrNull(r.doc_limit),
    threshold: num(r.threshold),
    precision: String(r.precision),
    block_size: numOrNull(r.block_size),
    generation: json(r.generation),
    layers_total: num(r.layers_total),
    routing_layers: (r.routing_layers as unknown[]).map(num),
    git_revision: r.git_revision === null ? null : String(r.git_revision),
    execution_provider: String(r.execution_provider),
    package_versions: json(r.package_versions),
    hardware: json(r.hardware),
    threads: json(r.threads),
    started_at: iso(r.started_at) as string,
    ended_at: iso(r.ended_at),
    comparator: json(r.comparator) as RunComparator | null,
  };
}

function groupBy<T>(list: Row[], make: (r: Row) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of list) {
    const key = String(r.run_id);
    let group = out.get(key);
    if (group === undefined) out.set(key, (group = []));
    group.push(make(r));
  }
  return out;
}

function collectMetrics(metricRows: Row[]): SummaryInputs['metrics'] {
  const byRun: SummaryInputs['metrics'] = new Map();
  for (const r of metricRows) {
    const runId = String(r.run_id);
    let perRun = byRun.get(runId);
    if (perRun === undefined) byRun.set(runId, (perRun = new Map()));
    const parsed = json(r.metrics);
    if (parsed === null || typeof parsed !== 'object') continue;
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      let perMetric = perRun.get(name);
      if (perMetric === undefined) perRun.set(name, (perMetric = new Map()));
      perMetric.set(String(r.doc_id), value);
    }
  }
  return byRun;
}

/** Every run of the study with its metadata, in the order they started. */
export async function readRuns(conn: DuckDBConnection): Promise<StoredRun[]> {
  return (await rows(conn, RUNS_SQL)).map(storedRun);
}

export async function readSummaryInputs(conn: DuckDBConnection, db: string, schemaVersion: number): Promise<SummaryInputs> {
  const totals = new Map<string, SampleTotals>();
  for (const r of await rows(conn, SAMPLE_TOTALS_SQL)) {
    totals.set(String(r.run_id), {
      n_done: num(r.n_done),
      n_error: num(r.n_error),
      n_truncated: num(r.n_truncated),
      prompt_tokens: num(r.prompt_tokens),
      generated_tokens: num(r.generated_tokens),
      prefill_ms: num(r.prefill_ms),
      decode_ms: num(r.decode_ms),
    });
  }
  const depth = groupBy(await rows(conn, SAMPLE_DEPTH_SQL), (r) => ({
    doc_id: String(r.doc_id),
    generated: num(r.generated),
    layers_used_sum: num(r.layers_used_sum),
    routed_on: num(r.routed_on),
    routed_decisions: num(r.routed_decisions),
  }));
  return {
    db,
    schema_version: schemaVersion,
    runs: await readRuns(conn),
    totals,
    errors: groupBy(await rows(conn, ERRORS_SQL), (r) => ({ reason: String(r.reason), count: num(r.count) })),
    depth,
    metrics: collectMetrics(await rows(conn, METRICS_SQL)),
    fidelity: await readFidelityInputs(conn),
  };
}
