/**
 * How the report words a claim measured with an interval: it holds when the 95% interval of the
 * difference the claim predicts lies above 0, is reversed when it lies below 0, and is not shown
 * either way when it holds 0.
 */
import type { Estimate } from '../src/scoring/bootstrap.ts';

export type Verdict = 'holds' | 'reversed' | 'no clear difference' | 'not measured';

export function verdictOf(d: Estimate | null): Verdict {
  if (d === null) return 'not measured';
  if (d.ci95[0] > 0) return 'holds';
  if (d.ci95[1] < 0) return 'reversed';
  return 'no clear difference';
}

/** A number with its sign, as differences are written. */
export const signed = (v: number, digits = 2): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
