/**
 * bench's numbers from its rounds: per variant the median step time with its spread, tokens/s, the
 * layers used, multiply-adds and weights read per step for the routing observed, and the speed
 * ratio against the ideal one (harness/commands/bench.ts says how each is defined).
 */
import { median } from '../../src/median.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { producingDepths } from '../../src/model/generate.ts';
import type { WeightPrecision } from '../../src/model/graph-builder.ts';
import { weightWidths } from '../../src/model/held-weights.ts';
import { decodeStepMultiplyAdds } from '../../src/model/path-cost.ts';
import type { Variant } from '../../src/model/variants.ts';
import { decodeStepWeightBytes } from '../../src/model/weight-traffic.ts';
import { decodeSteps } from './calibrate.ts';
import type { Run } from './rounds.ts';

export const spread = (xs: number[]): { min: number; max: number } => ({ min: Math.min(...xs), max: Math.max(...xs) });
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

export interface VariantResult {
  decode_ms_per_step: number;
  decode_ms_per_step_spread: { min: number; max: number };
  decode_tokens_per_s: number;
  prefill_tokens_per_s: number;
  layers_used_mean: number;
  multiply_adds_per_step: number;
  weight_bytes_read_per_step: number | null;
  weight_read_bytes_per_s: number | null;
  bandwidth_fraction: number | null;
  rounds_ms_per_step: number[];
  sessions_ms_per_step: number[];
}

export interface RoundsResult {
  full: VariantResult;
  flexidepth: VariantResult;
  /** Each round's full ÷ flexidepth step time. */
  round_ratios: number[];
  decode_speed_ratio: number;
  ideal_speed_ratio: number;
}

export interface RoundsSetting {
  config: ModelConfig;
  /** The checkpoint's adapter width, when it has one (0: none). */
  adapterSize: number;
  batch: number;
  precision: WeightPrecision;
  blockSize: number;
  /** This thread's memory read bandwidth, bytes per second. */
  bandwidthBytesPerS: number;
}

/** The numbers of `runs` (per session, per round; sessions in `order`). */
export function roundsResult(runs: readonly Run[][], order: readonly Variant[], rounds: number, x: RoundsSetting): RoundsResult {
  const of = (v: Variant): Run[][] => runs.filter((_, k) => order[k] === v);
  // A round's value for a variant is the mean of its sessions' runs in that round.
  const perRound = (v: Variant): number[] => Array.from({ length: rounds }, (_, r) => mean(of(v).map((rs) => rs[r]!.msPerStep)));
  // Multiply-adds per step over every measured step (the same context lengths in both variants).
  const steps = of('flexidepth')
    .flat()
    .flatMap((r) => r.gens)
    .flatMap(decodeSteps);
  const adapter = x.adapterSize || undefined;
  // Per batched step: the rows' multiply-adds added up.
  const macs = (v: Variant): number => x.batch * mean(steps.map((s) => decodeStepMultiplyAdds(x.config, s.keys, v === 'full' ? null : s.mask, adapter)));
  // At batch 1 a step reads each weight of the path it takes once; the rows of a batch share the
  // reads of the paths any of them takes, which per-sequence masks do not pair up, so only batch 1 is counted.
  const weightsRead = (v: Variant): number | null =>
    x.batch === 1
      ? mean(steps.map((s) => decodeStepWeightBytes(x.config, v === 'full' ? null : s.mask, adapter, weightWidths(x.precision, x.blockSize))))
      : null;
  const summary = (v: Variant): VariantResult => {
    const ms = perRound(v);
    const all = of(v).flat();
    const msPerStep = median(ms);
    const read = weightsRead(v);
    const readPerS = read === null ? null : read / (msPerStep / 1000);
    return {
      decode_ms_per_step: msPerStep,
      decode_ms_per_step_spread: spread(ms),
      decode_tokens_per_s: (x.batch * 1000) / msPerStep,
      prefill_tokens_per_s: median(all.map((r) => r.prefillTokensPerS)),
      layers_used_mean: mean(all.flatMap((r) => r.gens.flatMap(producingDepths))),
      multiply_adds_per_step: macs(v),
      weight_bytes_read_per_step: read,
      weight_read_bytes_per_s: readPerS,
      bandwidth_fraction: readPerS === null ? null : readPerS / x.bandwidthBytesPerS,
      rounds_ms_per_step: ms,
      sessions_ms_per_step: of(v).map((rs) => median(rs.map((r) => r.msPerStep))),
    };
  };
  const full = summary('full');
  const flexidepth = summary('flexidepth');
  const roundRatios = full.rounds_ms_per_step.map((f, r) => f / flexidepth.rounds_ms_per_step[r]!);
  // Each round's own ratio pairs runs made within a second of each other; under a load that drifts
  // between rounds (this machine is shared), their median is steadier than the quotient of the
  // two variants' medians, which may come from different rounds. Both are reported.
  return {
    full,
    flexidepth,
    round_ratios: roundRatios,
    decode_speed_ratio: median(roundRatios),
    ideal_speed_ratio: full.multiply_adds_per_step / flexidepth.multiply_adds_per_step,
  };
}
