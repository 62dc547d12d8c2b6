/** Number formats shared by the renderers, so the terminal, Markdown and HTML say the same thing. */
import type { Estimate } from '../src/scoring/bootstrap.ts';
import { isFp32, precisionLabel, type PrecisionOf } from './precision.ts';

export const fixed = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));
export const percent = (v: number | null, digits = 1): string => (v === null ? '-' : `${(v * 100).toFixed(digits)}%`);
export const interval = (ci: readonly [number, number] | null, digits = 3): string =>
  ci === null ? '' : `[${ci[0].toFixed(digits)}, ${ci[1].toFixed(digits)}]`;
export const estimate = (e: Estimate, digits = 3): string => `${e.mean.toFixed(digits)} ${interval(e.ci95, digits)}`;
/**
 * Below this a baseline's mean (a metric in [0, 1]) is too near zero for a ratio to it to say
 * anything: 0.007 against 0.010 reads as 70% retention.
 */
export const RETENTION_BASELINE_FLOOR = 0.05;
/** Retention as a table shows it: a percentage, or why there is none. */
export const retentionCell = (retention: number | null, baseline: number | undefined): string =>
  baseline !== undefined && Math.abs(baseline) < RETENTION_BASELINE_FLOOR ? `n/a (full ${baseline.toFixed(3)})` : percent(retention);
/**
 * Every variant but `full` is run at (or matched to) a FlexiDepth threshold, which tells its runs
 * apart; a precision other than fp32 is appended (`full int8`, `flexidepth@0.5 int4/64`), so fp32
 * runs keep the labels studies had before precisions.
 */
export const variantLabel = (variant: string, threshold: number, precision: PrecisionOf): string => {
  const base = variant === 'full' ? variant : `${variant}@${threshold}`;
  return isFp32(precision) ? base : `${base} ${precisionLabel(precision)}`;
};

/** A result's samples as the Scores tables show them: scored, then truncated and failed where there are any. */
export const samplesCell = (r: { n: number; n_truncated: number; n_error: number }): string =>
  `${r.n}${r.n_truncated > 0 ? ` (${r.n_truncated} truncated)` : ''}${r.n_error > 0 ? ` (+${r.n_error} failed)` : ''}`;

/** A run's mean layers used per generated token of its total, with the interval where it varies (not for full). */
export const layersUsedCell = (r: {
  variant: string;
  layers_used_mean: number | null;
  layers_used_ci95: readonly [number, number] | null;
  layers_total: number;
}): string =>
  r.layers_used_mean === null
    ? '-'
    : `${r.layers_used_mean.toFixed(2)}/${r.layers_total} ${r.variant === 'full' ? '' : interval(r.layers_used_ci95, 2)}`.trim();
