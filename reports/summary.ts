/**
 * The study summary: what `flexibench report --json` prints and `summary.json` holds (docs/design.md).
 * One result row per run (a run is one model × suite config × variant × threshold × weight precision
 * × seed × limit × generation settings), so runs that differ in any of those are never averaged
 * together. Several study files are summarized side by side: every row names its study.
 *
 * Layers used are per generated token at the producing position (src/store/summary-reads.ts),
 * pooled over a run's tokens, with a cluster bootstrap over samples for the interval.
 */
import { bootstrapMean, bootstrapRatio, type Clusters, type Estimate } from '../src/scoring/bootstrap.ts';
import { tokensPerSecond } from '../src/model/generate.ts';
import { COMPARATOR_VARIANTS, isComparator, type ComparatorVariant, type Variant } from '../src/model/variants.ts';
import type { ErrorReason, SampleDepth, StoredRun, SummaryInputs } from '../src/store/summary-reads.ts';
import { byFidelityRow, fidelityRows, type FidelityRow } from './fidelity.ts';
import { comparisonKey, pairMetrics, type MetricPair } from './pairing.ts';
import { layerUsageByRun, type StudyPatterns } from './patterns.ts';
import { byPrecision } from './precision.ts';

export type { Estimate };

export interface MetricEstimate extends Estimate {
  /** Done samples with a numeric value for this metric. */
  n: number;
}

export interface RunSummary extends StoredRun {
  /** Label of the study file the run is in. */
  study: string;
  n_done: number;
  n_error: number;
  /** Done samples whose prompt was left-truncated to fit the max length. */
  n_truncated: number;
  /** Distinct reasons of the failed samples, most frequent first. */
  errors: ErrorReason[];
}

export interface ResultRow {
  study: string;
  model_hash: string;
  suite: string;
  variant: Variant;
  run_id: string;
  threshold: number;
  /** The weights' precision ('fp32', 'fp16', 'int8', 'int4'); 'fp32' for studies written before precisions. */
  precision: string;
  /** int8/int4 quantization block size when not the default; null otherwise. */
  block_size: number | null;
  /** Done samples. */
  n: number;
  n_error: number;
  /** Done samples whose prompt was left-truncated to fit the max length. */
  n_truncated: number;
  /** Numeric metrics only; percentile bootstrap with a fixed seed. */
  metrics: Record<string, MetricEstimate>;
  layers_total: number;
  /** Mean producing-position depth per generated token (layers_total for `full`); null with no generated tokens. */
  layers_used_mean: number | null;
  layers_used_ci95: [number, number] | null;
  /** Share of routed-layer decisions at producing positions that took the full path; null for `full`. */
  routed_usage: number | null;
  routed_usage_ci95: [number, number] | null;
  /** Per routed layer, the share of generated tokens whose producing pass ran it; null for `full` and the comparators (patterns are FlexiDepth's). */
  routed_layer_usage: { layer: number; usage: number }[] | null;
  generated_tokens: number;
  prefill_tokens_per_s: number | null;
  decode_tokens_per_s: number | null;
}

export interface PairedRow {
  study: string;
  model_hash: string;
  suite: string;
  metric: string;
  flexidepth_run_id: string;
  full_run_id: string;
  threshold: number;
  /** Both runs' weight precision: runs are paired within one precision only. */
  precision: string;
  block_size: number | null;
  /** Documents done in both runs with the metric numeric in both. */
  n: number;
  flexidepth_mean: number;
  full_mean: number;
  flexidepth_minus_full: Estimate;
  /** mean(flexidepth) / mean(full); null when the full mean is 0. */
  retention: number | null;
}

/** A FlexiDepth run against a comparator run matched to its threshold, on one metric. */
export interface MatchedRow {
  study: string;
  model_hash: string;
  suite: string;
  metric: string;
  threshold: number;
  /** Both runs' weight precision: runs are matched within one precision only. */
  precision: string;
  block_size: number | null;
  comparator: ComparatorVariant;
  flexidepth_run_id: string;
  comparator_run_id: string;
  /** Documents done in both runs with the metric numeric in both. */
  n: number;
  flexidepth_mean: number;
  comparator_mean: number;
  flexidepth_minus_comparator: Estimate;
  /** The two runs' ResultRow.layers_used_mean (per generated token, producing position). */
  flexidepth_layers_used: number | null;
  comparator_layers_used: number | null;
}

export interface StudySummary {
  study: { dbs: { label: string; db: string; schema_version: number }[]; runs: RunSummary[] };
  results: ResultRow[];
  paired: PairedRow[];
  /** FlexiDepth against the static and random comparators at the same threshold; empty without comparator runs. */
  matched: MatchedRow[];
  /** Each run at a precision other than fp32 against its fp32 counterpart (reports/fidelity.ts); empty unless a study has several precisions. */
  fidelity: FidelityRow[];
}

export interface BootstrapSettings {
  /** Replicates; default 10000. */
  samples: number;
  /** Default 0. */
  seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { samples: 10_000, seed: 0 };

/** A study file, read, with the label its rows carry. */
export interface LabeledStudy {
  label: string;
  inputs: SummaryInputs;
  patterns: StudyPatterns;
}

/** The clusters of a run's producing-position depth: one per done sample with generated tokens. */
export function depthClusters(samples: readonly SampleDepth[]): Clusters {
  return { num: samples.map((s) => s.layers_used_sum), den: samples.map((s) => s.generated) };
}

function routedClusters(samples: readonly SampleDepth[]): Clusters {
  return { num: samples.map((s) => s.routed_on), den: samples.map((s) => s.routed_decisions) };
}

function metricEstimates(perMetric: Map<string, Map<string, number>> | undefined, boot: BootstrapSettings): Record<string, MetricEstimate> {
  const out: Record<string, MetricEstimate> = {};
  for (const [name, values] of [...(perMetric ?? new Map<string, Map<string, number>>())].sort(([a], [b]) => a.localeCompare(b))) {
    const list = [...values.values()];
    out[name] = { ...bootstrapMean(list, boot), n: list.length };
  }
  return out;
}

function resultRow(run: RunSummary, study: LabeledStudy, layerUsage: Map<string, number[]>, boot: BootstrapSettings): ResultRow {
  const t = study.inputs.totals.get(run.run_id);
  const samples = (study.inputs.depth.get(run.run_id) ?? []).filter((s) => s.generated > 0);
  const full = run.variant === 'full';
  const depth = full || samples.length === 0 ? null : bootstrapRatio(depthClusters(samples), boot);
  const routed = full || samples.length === 0 || samples.every((s) => s.routed_decisions === 0) ? null : bootstrapRatio(routedClusters(samples), boot);
  const usage = layerUsage.get(run.run_id);
  return {
    study: study.label,
    model_hash: run.model_hash,
    suite: run.suite,
    variant: run.variant,
    run_id: run.run_id,
    threshold: run.threshold,
    precision: run.precision,
    block_size: run.block_size,
    n: run.n_done,
    n_error: run.n_error,
    n_truncated: run.n_truncated,
    metrics: metricEstimates(study.inputs.metrics.get(run.run_id), boot),
    layers_total: run.layers_total,
    layers_used_mean: full && samples.length > 0 ? run.layers_total : (depth?.mean ?? null),
    layers_used_ci95: full && samples.length > 0 ? [run.layers_total, run.layers_total] : (depth?.ci95 ?? null),
    routed_usage: routed?.mean ?? null,
    routed_usage_ci95: routed?.ci95 ?? null,
    routed_layer_usage: full || usage === undefined ? null : usage.map((u, i) => ({ layer: run.routing_layers[i] as number, usage: u })),
    generated_tokens: t?.generated_tokens ?? 0,
    prefill_tokens_per_s: t === undefined ? null : tokensPerSecond(t.prompt_tokens, t.prefill_ms),
    decode_tokens_per_s: t === undefined ? null : tokensPerSecond(t.generated_tokens, t.decode_ms),
  };
}

export function buildSummary(studies: readonly LabeledStudy[], boot: BootstrapSettings = DEFAULT_BOOTSTRAP): StudySummary {
  const runs: RunSummary[] = [];
  const results: ResultRow[] = [];
  const paired: PairedRow[] = [];
  const matched: MatchedRow[] = [];
  const fidelity: FidelityRow[] = [];
  for (const study of studies) {
    const studyRuns = study.inputs.runs.map((r) => ({
      ...r,
      study: study.label,
      n_done: study.inputs.totals.get(r.run_id)?.n_done ?? 0,
      n_error: study.inputs.totals.get(r.run_id)?.n_error ?? 0,
      n_truncated: study.inputs.totals.get(r.run_id)?.n_truncated ?? 0,
      errors: study.inputs.errors.get(r.run_id) ?? [],
    }));
    runs.push(...studyRuns);
    const layerUsage = layerUsageByRun(study.patterns);
    const rows = studyRuns.map((run) => resultRow(run, study, layerUsage, boot));
    results.push(...rows);
    paired.push(...pairRuns(study.label, studyRuns, study.inputs.metrics, boot));
    const layersUsed = new Map(rows.map((r) => [r.run_id, r.layers_used_mean]));
    matched.push(...matchRuns(study.label, studyRuns, study.inputs.metrics, layersUsed, boot));
    const fidelityRuns = studyRuns.map((run) => ({ run, metrics: study.inputs.metrics.get(run.run_id), layers_used_mean: layersUsed.get(run.run_id) ?? null }));
    fidelity.push(...fidelityRows(study.label, fidelityRuns, study.inputs.fidelity, boot));
  }
  const order = new Map(studies.map((s, i) => [s.label, i]));
  const byStudy = (a: { study: string }, b: { study: string }): number => (order.get(a.study) as number) - (order.get(b.study) as number);
  results.sort(
    (a, b) =>
      byStudy(a, b) ||
      a.model_hash.localeCompare(b.model_hash) ||
      a.suite.localeCompare(b.suite) ||
      a.variant.localeCompare(b.variant) ||
      a.threshold - b.threshold ||
      byPrecision(a, b) ||
      a.run_id.localeCompare(b.run_id),
  );
  type Pair = { study: string; model_hash: string; suite: string; metric: string; threshold: number; precision: string; block_size: number | null };
  const byPair = (x: Pair, y: Pair): number =>
    byStudy(x, y) ||
    x.model_hash.localeCompare(y.model_hash) ||
    x.suite.localeCompare(y.suite) ||
    x.metric.localeCompare(y.metric) ||
    x.threshold - y.threshold ||
    byPrecision(x, y);
  paired.sort(byPair);
  matched.sort(
    (x, y) =>
      byPair(x, y) ||
      COMPARATOR_VARIANTS.indexOf(x.comparator) - COMPARATOR_VARIANTS.indexOf(y.comparator) ||
      x.comparator_run_id.localeCompare(y.comparator_run_id),
  );
  fidelity.sort((x, y) => byStudy(x, y) || byFidelityRow(x, y));
  return {
    study: { dbs: studies.map((s) => ({ label: s.label, db: s.inputs.db, schema_version: s.inputs.schema_version })), runs },
    results,
    paired,
    matched,
    fidelity,
  };
}

const comparable = (a: StoredRun, b: StoredRun): boolean => comparisonKey(a) === comparisonKey(b);

/** Each FlexiDepth run with each run `partner` accepts for it, and their per-metric pairing. */
function flexidepthPairs(
  runs: RunSummary[],
  metrics: SummaryInputs['metrics'],
  boot: BootstrapSettings,
  partner: (flex: RunSummary, other: RunSummary) => boolean,
): { flex: RunSummary; other: RunSummary; p: MetricPair }[] {
  return runs
    .filter((r) => r.variant === 'flexidepth')
    .flatMap((flex) =>
      runs
        .filter((other) => partner(flex, other))
        .flatMap((other) => pairMetrics(metrics.get(flex.run_id), metrics.get(other.run_id), boot).map((p) => ({ flex, other, p }))),
    );
}

function pairRuns(study: string, runs: RunSummary[], metrics: SummaryInputs['metrics'], boot: BootstrapSettings): PairedRow[] {
  return flexidepthPairs(runs, metrics, boot, (flex, other) => other.variant === 'full' && comparable(flex, other)).map(({ flex, other: full, p }) => ({
    study,
    model_hash: flex.model_hash,
    suite: flex.suite,
    metric: p.metric,
    flexidepth_run_id: flex.run_id,
    full_run_id: full.run_id,
    threshold: flex.threshold,
    precision: flex.precision,
    block_size: flex.block_size,
    n: p.n,
    flexidepth_mean: p.a.mean,
    full_mean: p.b.mean,
    flexidepth_minus_full: p.difference,
    retention: p.b.mean === 0 ? null : p.a.mean / p.b.mean,
  }));
}

/** A comparator is matched to the FlexiDepth threshold it stores as its own: only runs at that threshold are compared. */
function matchRuns(
  study: string,
  runs: RunSummary[],
  metrics: SummaryInputs['metrics'],
  layersUsed: Map<string, number | null>,
  boot: BootstrapSettings,
): MatchedRow[] {
  const matched = (flex: RunSummary, other: RunSummary): boolean =>
    isComparator(other.variant) && comparable(flex, other) && other.threshold === flex.threshold;
  return flexidepthPairs(runs, metrics, boot, matched).map(({ flex, other, p }) => ({
    study,
    model_hash: flex.model_hash,
    suite: flex.suite,
    metric: p.metric,
    threshold: flex.threshold,
    precision: flex.precision,
    block_size: flex.block_size,
    comparator: other.variant as ComparatorVariant,
    flexidepth_run_id: flex.run_id,
    comparator_run_id: other.run_id,
    n: p.n,
    flexidepth_mean: p.a.mean,
    comparator_mean: p.b.mean,
    flexidepth_minus_comparator: p.difference,
    flexidepth_layers_used: layersUsed.get(flex.run_id) ?? null,
    comparator_layers_used: layersUsed.get(other.run_id) ?? null,
  }));
}
