/**
 * What one `flexibench bench` call reports: the JSON document of --json, and the short text
 * otherwise, written from the same document.
 */
import type { WeightPrecision } from '../../src/model/graph-builder.ts';
import type { MemoryBandwidth } from '../../src/model/memory-bandwidth.ts';
import type { ExecutionProvider } from '../../src/model/session.ts';
import type { Variant } from '../../src/model/variants.ts';
import { gigabytes, type SessionLayout } from './budget.ts';
import type { Calibration } from './calibrate.ts';
import type { VariantResult } from './result.ts';
import type { ScaleFigures } from './scale.ts';

export interface BenchDocument {
  /** The checkpoint folder; null for a synthetic one. */
  model: string | null;
  synthetic: {
    /** The named shape given (llama-3-8b), or null for HIDDEN:LAYERS. */
    shape: string | null;
    hidden_size: number;
    layers: number;
    intermediate_size: number;
    vocab_size: number;
    seed: number;
  } | null;
  model_hash: string;
  execution_provider: ExecutionProvider;
  intra_op_threads: number;
  precision: WeightPrecision;
  block_size: number | null;
  prompt_tokens: number;
  decode_tokens: number;
  batch: number;
  rounds: number;
  session_layout: SessionLayout;
  session_order: readonly Variant[];
  threshold: number;
  skip_rate_target: number | null;
  skip_rate: number;
  calibration: Calibration[] | null;
  layers_total: number;
  routing_layers: number[];
  full: VariantResult;
  flexidepth: VariantResult;
  decode_speed_ratio: number;
  decode_speed_ratio_spread: { min: number; max: number };
  decode_speed_ratio_of_medians: number;
  ideal_speed_ratio: number;
  efficiency: number;
  memory_read_bandwidth: MemoryBandwidth;
  scale: ScaleFigures;
}

/** The short summary bench prints without --json; `synthetic` is the --synthetic text given, if any. */
export function benchText(doc: BenchDocument, synthetic: string | undefined): string {
  const f = (x: number, n = 3): string => x.toFixed(n);
  const bytes = (n: number): string => (Math.abs(n) >= 1e9 ? gigabytes(n) : `${(n / 1e6).toFixed(1)} MB`);
  const { full, flexidepth, scale } = doc;
  const variantLine = (v: Variant, s: VariantResult): string =>
    `${v.padEnd(10)} ${f(s.decode_ms_per_step)} ms/step (${f(s.decode_ms_per_step_spread.min)}-${f(s.decode_ms_per_step_spread.max)}), ${f(s.decode_tokens_per_s, 1)} tokens/s, prefill ${f(s.prefill_tokens_per_s, 0)} tokens/s, ${f(s.layers_used_mean, 2)} of ${doc.layers_total} layers\n`;
  return (
    `${doc.model ?? `synthetic ${synthetic}`}: ${doc.prompt_tokens} prompt tokens, ${doc.decode_tokens} decoded${doc.batch > 1 ? ` by each of ${doc.batch} sequences together` : ''}, median of ${doc.rounds} rounds, ${doc.intra_op_threads} thread(s), ${doc.precision} weights, threshold ${f(doc.threshold, 4)} (skip rate ${f(doc.skip_rate)})\n` +
    variantLine('full', full) +
    variantLine('flexidepth', flexidepth) +
    `decode speed ratio ${f(doc.decode_speed_ratio)} (median of rounds, ${f(doc.decode_speed_ratio_spread.min)}-${f(doc.decode_speed_ratio_spread.max)}; of the medians ${f(doc.decode_speed_ratio_of_medians)}), ideal ${f(doc.ideal_speed_ratio)}, efficiency ${f(doc.efficiency)}\n` +
    (full.bandwidth_fraction === null
      ? ''
      : `weights read per step: ${(['full', 'flexidepth'] as const)
          .map((v) => {
            const s = doc[v];
            return `${v} ${bytes(s.weight_bytes_read_per_step!)} at ${gigabytes(s.weight_read_bytes_per_s!)}/s (${f(100 * s.bandwidth_fraction!, 0)}%)`;
          })
          .join(', ')} of the ${gigabytes(doc.memory_read_bandwidth.bytes_per_s)}/s one thread reads here\n`) +
    `sessions: ${doc.session_layout === 'abba' ? 'four, ABBA' : 'one per variant, alternating (four do not fit in the free memory)'}; peak RSS ${scale.peak_rss_bytes === null ? 'unknown' : bytes(scale.peak_rss_bytes)}\n` +
    `scale: checkpoint ${bytes(scale.checkpoint_bytes)} on disk, ${bytes(scale.weight_bytes)} of float32 weights, checked and hashed in ${f(scale.checkpoint_load_s, 2)} s; ` +
    `graphs built in ${(['full', 'flexidepth'] as const).map((v) => `${f(scale.graphs[v]?.build_s ?? 0, 2)} s (${v})`).join(', ')}; ` +
    `sessions opened ${scale.sessions.map((x) => `${x.variant} ${f(x.open_s, 2)} s +${bytes(x.rss_growth_bytes)}`).join(', ')}\n`
  );
}
