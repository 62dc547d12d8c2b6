/**
 * The paper's bowl (docs/method.md, "Layer-allocation findings to reproduce"): per-layer usage over
 * the routed layers is bowl-shaped, the first and last routed layers used by more tokens than the
 * middle ones. Measured here as two differences in the share of generated tokens that ran a layer
 * (producing position): the first routed layer against the middle routed layers' mean, and the
 * last against the same mean, each with a cluster bootstrap over samples (BOWL_RULE).
 */
import { bootstrapRatio, type BootstrapOptions, type Clusters, type Estimate } from '../src/scoring/bootstrap.ts';
import type { SampleLayerUse } from './patterns.ts';
import { verdictOf, type Verdict } from './verdict.ts';

export const BOWL_RULE =
  'The bowl holds when the first and the last routed layer each run for a larger share of generated tokens than the middle routed layers on average, ' +
  'both differences with 95% intervals above 0 (cluster bootstrap over samples). It is reversed, a hump, when both intervals are below 0; ' +
  'anything else is no bowl. It needs at least three routed layers.';

export interface BowlCheck {
  /** Usage of the first routed layer minus the middle routed layers' mean usage, as shares of generated tokens; null when not measured. */
  first_minus_middle: Estimate | null;
  last_minus_middle: Estimate | null;
  verdict: Verdict;
  /** The check in words, e.g. "the bowl holds: first routed layer +12 points [8, 16], last +20 [15, 25] above the middle's mean". */
  text: string;
}

/** Per sample: ran(edge) minus the mean of ran(middle layers), over its generated tokens. */
function edgeClusters(samples: readonly SampleLayerUse[], edge: number, middle: readonly number[]): Clusters {
  return {
    num: samples.map((s) => (s.ran[edge] ?? 0) - middle.reduce((sum, l) => sum + (s.ran[l] ?? 0), 0) / middle.length),
    den: samples.map((s) => s.tokens),
  };
}

const points = (d: Estimate): string =>
  `${d.mean >= 0 ? '+' : ''}${(100 * d.mean).toFixed(1)} points [${(100 * d.ci95[0]).toFixed(1)}, ${(100 * d.ci95[1]).toFixed(1)}]`;

/** The bowl over `samples` of runs routing `routedLayers` layers. */
export function bowlCheck(samples: readonly SampleLayerUse[], routedLayers: number, boot: BootstrapOptions): BowlCheck {
  if (routedLayers < 3) return notMeasured(`the model routes ${routedLayers} layers; a bowl needs at least three`);
  if (samples.reduce((s, u) => s + u.tokens, 0) === 0) return notMeasured('no generated tokens');
  const middle = Array.from({ length: routedLayers - 2 }, (_, i) => i + 1);
  const first = bootstrapRatio(edgeClusters(samples, 0, middle), boot);
  const last = bootstrapRatio(edgeClusters(samples, routedLayers - 1, middle), boot);
  const a = verdictOf(first);
  const b = verdictOf(last);
  const verdict: Verdict = a === 'holds' && b === 'holds' ? 'holds' : a === 'reversed' && b === 'reversed' ? 'reversed' : 'no clear difference';
  const numbers = `first routed layer ${points(first)}, last ${points(last)} against the middle layers' mean`;
  const text = verdict === 'holds' ? `the bowl holds: ${numbers}` : verdict === 'reversed' ? `no bowl, a hump: ${numbers}` : `no bowl: ${numbers}`;
  return { first_minus_middle: first, last_minus_middle: last, verdict, text };
}

function notMeasured(why: string): BowlCheck {
  return { first_minus_middle: null, last_minus_middle: null, verdict: 'not measured', text: `the bowl: not measured (${why})` };
}
