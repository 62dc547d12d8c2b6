/**
 * The study summary: what `flexibench report --json` prints and `summary.json` holds (DESIGN.md).
 * One result row per run (a run is one model × suite config × variant × threshold × seed × limit ×
 * generation settings), so runs that differ in any of those are never averaged together; in the
 * usual study with one run per (model, suite, variant) that is exactly one row per such triple.
 *
 * Layer usage is per generated token with the producing-position depth (FLEXIDEPTH.md, "Which token
 * a depth belongs to"): generated token p was produced by the pass at position p-1, so its depth is
 * the row at p-1 (the last prompt position for the first generated token).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { bootstrapMean, pairedBootstrap, type Estimate } from '../scoring/bootstrap.ts';

export type { Estimate };

export interface MetricEstimate extends Estimate {
  /** Done samples with a numeric value for this metric. */
  n: number;
}

export interface RunSummary {
  run_id: string;
  suite: string;
  variant: 'full' | 'flexidepth';
  model_hash: string;
  model_dir: string;
  suite_config_hash: string;
  seed: number;
  limit: number | null;
  threshold: number;
  generation: unknown;
  layers_total: number;
  routing_layers: number[];
  git_revision: string | null;
  execution_provider: string;
  package_versions: unknown;
  hardware: unknown;
  threads: unknown;
  n_done: number;
  n_error: number;
  started_at: string;
  ended_at: string | null;
}

export interface ResultRow {
  model_hash: string;
  suite: string;
  variant: 'full' | 'flexidepth';
  run_id: string;
  threshold: number;
  /** Done samples. */
  n: number;
  n_error: number;
  /** Numeric metrics only; percentile bootstrap with a fixed seed. */
  metrics: Record<string, MetricEstimate>;
  layers_total: number;
  /** Mean producing-position depth per generated token; layers_total for `full`; null with no generated tokens. */
  layers_used_mean: number | null;
  /** Share of routed-layer decisions at producing positions that took the full path; null for `full`. */
  routed_usage: number | null;
  generated_tokens: number;
  prefill_tokens_per_s: number | null;
  decode_tokens_per_s: number | null;
}

export interface PairedRow {
  model_hash: string;
  suite: string;
  metric: string;
  flexidepth_run_id: string;
  full_run_id: string;
  threshold: number;
  /** Documents done in both runs with the metric numeric in both. */
  n: number;
  flexidepth_mean: number;
  full_mean: number;
  flexidepth_minus_full: Estimate;
  /** mean(flexidepth) / mean(full); null when the full mean is 0. */
  retention: number | null;
}

export interface StudySummary {
  study: { db: string; schema_version: number; runs: RunSummary[] };
  results: ResultRow[];
  paired: PairedRow[];
}

export interface SummaryOptions {
  /** Bootstrap replicates; default 10000. */
  bootstrapSamples?: number;
  /** Bootstrap seed; default 0. */
  seed?: number;
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
  SELECT run_id, suite, variant, model_hash, model_dir, suite_config_hash, seed::DOUBLE AS seed, doc_limit,
         threshold, generation::VARCHAR AS generation, layers_total, routing_layers, git_revision,
         execution_provider, package_versions::VARCHAR AS package_versions, hardware::VARCHAR AS hardware,
         threads::VARCHAR AS threads, started_at, ended_at
  FROM runs ORDER BY started_at, run_id`;

const SAMPLE_TOTALS_SQL = `
  SELECT run_id,
         count(*) FILTER (WHERE status = 'done')::INTEGER AS n_done,
         count(*) FILTER (WHERE status = 'error')::INTEGER AS n_error,
         coalesce(sum(prompt_tokens) FILTER (WHERE status = 'done'), 0)::DOUBLE AS prompt_tokens,
         coalesce(sum(generated_tokens) FILTER (WHERE status = 'done'), 0)::DOUBLE AS generated_tokens,
         coalesce(sum(prefill_ms) FILTER (WHERE status = 'done'), 0)::DOUBLE AS prefill_ms,
         coalesce(sum(decode_ms) FILTER (WHERE status = 'done'), 0)::DOUBLE AS decode_ms
  FROM samples GROUP BY run_id`;

/** Pooled over all generated tokens of a run's done samples; the mask share is pooled over decisions. */
const PRODUCING_DEPTH_SQL = `
  SELECT g.run_id,
         count(*)::DOUBLE AS generated,
         avg(p.layers_used)::DOUBLE AS layers_used_mean,
         (sum(coalesce(list_sum(p.mask::INTEGER[]), 0)) / nullif(sum(len(p.mask)), 0))::DOUBLE AS routed_usage
  FROM tokens g
  JOIN samples s ON s.run_id = g.run_id AND s.doc_id = g.doc_id AND s.status = 'done'
  JOIN tokens p ON p.run_id = g.run_id AND p.doc_id = g.doc_id AND p.position = g.position - 1
  WHERE g.phase = 'generated'
  GROUP BY g.run_id`;

const METRICS_SQL = `
  SELECT run_id, doc_id, metrics::VARCHAR AS metrics FROM samples
  WHERE status = 'done' ORDER BY run_id, doc_index, doc_id`;

/** Per run: metric name -> (doc id -> value), numeric finite values only, in document order. */
type RunMetrics = Map<string, Map<string, number>>;

function collectMetrics(metricRows: Row[]): Map<string, RunMetrics> {
  const byRun = new Map<string, RunMetrics>();
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

const ratePerSecond = (count: number, ms: number): number | null => (ms > 0 ? count / (ms / 1000) : null);

export async function buildSummary(conn: DuckDBConnection, db: string, schemaVersion: number, options: SummaryOptions = {}): Promise<StudySummary> {
  const boot = { samples: options.bootstrapSamples ?? 10_000, seed: options.seed ?? 0 };
  const runRows = await rows(conn, RUNS_SQL);
  const totals = new Map((await rows(conn, SAMPLE_TOTALS_SQL)).map((r) => [String(r.run_id), r]));
  const depth = new Map((await rows(conn, PRODUCING_DEPTH_SQL)).map((r) => [String(r.run_id), r]));
  const metrics = collectMetrics(await rows(conn, METRICS_SQL));

  const runs: RunSummary[] = runRows.map((r) => {
    const t = totals.get(String(r.run_id));
    return {
      run_id: String(r.run_id),
      suite: String(r.suite),
      variant: r.variant as RunSummary['variant'],
      model_hash: String(r.model_hash),
      model_dir: String(r.model_dir),
      suite_config_hash: String(r.suite_config_hash),
      seed: num(r.seed),
      limit: numOrNull(r.doc_limit),
      threshold: num(r.threshold),
      generation: json(r.generation),
      layers_total: num(r.layers_total),
      routing_layers: (r.routing_layers as unknown[]).map(num),
      git_revision: r.git_revision === null ? null : String(r.git_revision),
      execution_provider: String(r.execution_provider),
      package_versions: json(r.package_versions),
      hardware: json(r.hardware),
      threads: json(r.threads),
      n_done: t === undefined ? 0 : num(t.n_done),
      n_error: t === undefined ? 0 : num(t.n_error),
      started_at: iso(r.started_at) as string,
      ended_at: iso(r.ended_at),
    };
  });

  const results: ResultRow[] = runs.map((run) => {
    const t = totals.get(run.run_id);
    const d = depth.get(run.run_id);
    const metricEstimates: Record<string, MetricEstimate> = {};
    for (const [name, values] of [...(metrics.get(run.run_id) ?? new Map<string, Map<string, number>>())].sort(([a], [b]) => a.localeCompare(b))) {
      const list = [...values.values()];
      metricEstimates[name] = { ...bootstrapMean(list, boot), n: list.length };
    }
    const full = run.variant === 'full';
    return {
      model_hash: run.model_hash,
      suite: run.suite,
      variant: run.variant,
      run_id: run.run_id,
      threshold: run.threshold,
      n: run.n_done,
      n_error: run.n_error,
      metrics: metricEstimates,
      layers_total: run.layers_total,
      layers_used_mean: full ? run.layers_total : d === undefined ? null : num(d.layers_used_mean),
      routed_usage: full || d === undefined ? null : numOrNull(d.routed_usage),
      generated_tokens: t === undefined ? 0 : num(t.generated_tokens),
      prefill_tokens_per_s: t === undefined ? null : ratePerSecond(num(t.prompt_tokens), num(t.prefill_ms)),
      decode_tokens_per_s: t === undefined ? null : ratePerSecond(num(t.generated_tokens), num(t.decode_ms)),
    };
  });
  results.sort((a, b) => a.model_hash.localeCompare(b.model_hash) || a.suite.localeCompare(b.suite) || a.variant.localeCompare(b.variant) || a.threshold - b.threshold || a.run_id.localeCompare(b.run_id));

  return { study: { db, schema_version: schemaVersion, runs }, results, paired: pairRuns(runs, metrics, boot) };
}

/** Two runs are comparable when only the variant (and the flexidepth threshold, and the limit) differ. */
function comparable(flex: RunSummary, full: RunSummary): boolean {
  return (
    flex.model_hash === full.model_hash &&
    flex.suite === full.suite &&
    flex.suite_config_hash === full.suite_config_hash &&
    flex.seed === full.seed &&
    JSON.stringify(flex.generation) === JSON.stringify(full.generation)
  );
}

function pairRuns(runs: RunSummary[], metrics: Map<string, RunMetrics>, boot: { samples: number; seed: number }): PairedRow[] {
  const paired: PairedRow[] = [];
  const fulls = runs.filter((r) => r.variant === 'full');
  for (const flex of runs.filter((r) => r.variant === 'flexidepth')) {
    for (const full of fulls.filter((f) => comparable(flex, f))) {
      const flexMetrics = metrics.get(flex.run_id) ?? new Map<string, Map<string, number>>();
      const fullMetrics = metrics.get(full.run_id) ?? new Map<string, Map<string, number>>();
      for (const name of [...flexMetrics.keys()].sort()) {
        const a = flexMetrics.get(name) as Map<string, number>;
        const b = fullMetrics.get(name);
        if (b === undefined) continue;
        const docs = [...a.keys()].filter((doc) => b.has(doc));
        if (docs.length === 0) continue;
        const flexValues = docs.map((doc) => a.get(doc) as number);
        const fullValues = docs.map((doc) => b.get(doc) as number);
        const p = pairedBootstrap(flexValues, fullValues, boot);
        paired.push({
          model_hash: flex.model_hash,
          suite: flex.suite,
          metric: name,
          flexidepth_run_id: flex.run_id,
          full_run_id: full.run_id,
          threshold: flex.threshold,
          n: docs.length,
          flexidepth_mean: p.a.mean,
          full_mean: p.b.mean,
          flexidepth_minus_full: p.difference,
          retention: p.b.mean === 0 ? null : p.a.mean / p.b.mean,
        });
      }
    }
  }
  paired.sort((x, y) => x.model_hash.localeCompare(y.model_hash) || x.suite.localeCompare(y.suite) || x.metric.localeCompare(y.metric) || x.threshold - y.threshold);
  return paired;
}
