/**
 * How closely a run at a lower weight precision (fp16, int8, int4) follows its fp32 counterpart:
 * the `fidelity` part of the summary. Per run pair, every shared metric paired by document (as the
 * FlexiDepth − full pairing does), the layers each spent, the share of documents with the same
 * output, and for FlexiDepth the share of routing decisions taken alike on fp32's own tokens
 * (src/store/fidelity-reads.ts). Feeding fp32's tokens to both graphs measures the routing on the
 * same text: once two outputs diverge, their later tokens differ and comparing their routing would
 * count the divergence a second time.
 */
import type { BootstrapOptions, Estimate } from '../src/scoring/bootstrap.ts';
import type { Variant } from '../src/model/variants.ts';
import { agreementKey, type FidelityInputs } from '../src/store/fidelity-reads.ts';
import type { StoredRun } from '../src/store/summary-reads.ts';
import { pairMetrics, precisionCounterpartKey, type RunMetrics } from './pairing.ts';
import { byPrecision, isFp32 } from './precision.ts';

/** One metric of a run at a lower precision beside fp32, over the documents both scored. */
export interface FidelityMetric {
  /** Documents done in both runs with the metric numeric in both. */
  n: number;
  /** This precision's mean over those documents, with a percentile bootstrap 95% interval. */
  mean: number;
  ci95: [number, number];
  fp32_mean: number;
  /** This precision − fp32, paired over the shared documents. */
  minus_fp32: Estimate;
}

export interface FidelityRow {
  study: string;
  model_hash: string;
  suite: string;
  variant: Variant;
  threshold: number;
  precision: string;
  block_size: number | null;
  run_id: string;
  fp32_run_id: string;
  metrics: Record<string, FidelityMetric>;
  /** The two runs' ResultRow.layers_used_mean (per generated token, producing position). */
  layers_used_mean: number | null;
  fp32_layers_used_mean: number | null;
  /**
   * Whether the suite decodes greedily (its stored config's generation.sampling.method); null when
   * the stored config does not say. Identical output means "the same greedy text" only when true.
   */
  greedy: boolean | null;
  /** Documents done in both runs. */
  output_docs: number;
  /** Share of those whose stored output is byte-identical; null without a shared document. */
  identical_output: number | null;
  /**
   * Share of routed-layer decisions taken alike by both graphs on fp32's generated tokens (at their
   * producing positions), over the samples with agreement rows; null when there are none (variants
   * other than flexidepth, or a study written before they were stored).
   */
  routing_identical: number | null;
  routing_decisions: number;
  /** Samples the routing agreement covers. */
  routing_samples: number;
}

/** A run of the study as fidelityRows needs it: the stored run, its metrics and its mean layers used. */
export interface FidelityRun {
  run: StoredRun;
  metrics: RunMetrics | undefined;
  layers_used_mean: number | null;
}

function samplingMethod(config: unknown): unknown {
  const generation = typeof config === 'object' && config !== null ? (config as { generation?: unknown }).generation : undefined;
  const sampling = typeof generation === 'object' && generation !== null ? (generation as { sampling?: unknown }).sampling : undefined;
  return typeof sampling === 'object' && sampling !== null ? (sampling as { method?: unknown }).method : undefined;
}

/** The suite config's decoding, else the run identity's generation settings (the same object in runs flexibench writes). */
export function isGreedy(run: StoredRun): boolean | null {
  const method = samplingMethod(run.suite_config) ?? samplingMethod({ generation: run.generation });
  return method === 'greedy' ? true : method === 'sample' ? false : null;
}

function fidelityRow(study: string, p: FidelityRun, f: FidelityRun, inputs: FidelityInputs, boot: BootstrapOptions): FidelityRow {
  const key = agreementKey(p.run.run_id, f.run.run_id);
  const output = inputs.outputs.get(key);
  const routing = inputs.routing.get(key);
  const metrics: Record<string, FidelityMetric> = {};
  for (const m of pairMetrics(p.metrics, f.metrics, boot)) {
    metrics[m.metric] = { n: m.n, mean: m.a.mean, ci95: m.a.ci95, fp32_mean: m.b.mean, minus_fp32: m.difference };
  }
  return {
    study,
    model_hash: p.run.model_hash,
    suite: p.run.suite,
    variant: p.run.variant,
    threshold: p.run.threshold,
    precision: p.run.precision,
    block_size: p.run.block_size,
    run_id: p.run.run_id,
    fp32_run_id: f.run.run_id,
    metrics,
    layers_used_mean: p.layers_used_mean,
    fp32_layers_used_mean: f.layers_used_mean,
    greedy: isGreedy(p.run),
    output_docs: output?.docs ?? 0,
    identical_output: output === undefined || output.docs === 0 ? null : output.identical / output.docs,
    routing_identical: routing === undefined || routing.decisions === 0 ? null : routing.identical / routing.decisions,
    routing_decisions: routing?.decisions ?? 0,
    routing_samples: routing?.samples ?? 0,
  };
}

/**
 * Every run of one study at a precision other than fp32 against each fp32 run of the same model,
 * suite config, seed, generation settings, variant and threshold; none when the study has one
 * precision only.
 */
export function fidelityRows(study: string, runs: readonly FidelityRun[], inputs: FidelityInputs, boot: BootstrapOptions): FidelityRow[] {
  const fp32 = new Map<string, FidelityRun[]>();
  for (const r of runs.filter((x) => isFp32(x.run))) {
    const key = precisionCounterpartKey(r.run);
    fp32.set(key, [...(fp32.get(key) ?? []), r]);
  }
  return runs.filter((r) => !isFp32(r.run)).flatMap((p) => (fp32.get(precisionCounterpartKey(p.run)) ?? []).map((f) => fidelityRow(study, p, f, inputs, boot)));
}

/** Rows of a study as the results are: model, suite, variant, threshold, then precision. */
export function byFidelityRow(x: FidelityRow, y: FidelityRow): number {
  return (
    x.model_hash.localeCompare(y.model_hash) ||
    x.suite.localeCompare(y.suite) ||
    x.variant.localeCompare(y.variant) ||
    x.threshold - y.threshold ||
    byPrecision(x, y) ||
    x.run_id.localeCompare(y.run_id) ||
    x.fp32_run_id.localeCompare(y.fp32_run_id)
  );
}
