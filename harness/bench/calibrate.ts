/**
 * bench --skip-rate R: the threshold at which a share R of FlexiDepth's routed decisions skip, found
 * by decoding, since a run's gates depend on the threshold it runs at.
 */
import { generate, type Generation } from '../../src/model/generate.ts';
import type { DecoderSession } from '../../src/model/session.ts';
import { DEFAULT_THRESHOLD } from '../../src/model/variants.ts';

/** The decode steps of a run: positions from the first generated token on (each ran as one step). */
export const decodeSteps = (gen: Generation) => gen.positions.slice(gen.promptIds.length).map((p, k) => ({ mask: p.mask, keys: gen.promptIds.length + k + 1 }));

/** Share of the routed decisions at the decode steps that took the skip path. */
export function skipRate(gens: Generation[]): number {
  let skipped = 0;
  let total = 0;
  for (const gen of gens)
    for (const s of decodeSteps(gen)) {
      skipped += s.mask.filter((full) => !full).length;
      total += s.mask.length;
    }
  return total > 0 ? skipped / total : Number.NaN;
}

/** The threshold below which (gate <= threshold) a share `rate` of these gates falls. */
function quantileThreshold(gates: number[], rate: number): number {
  const s = [...gates].sort((a, b) => a - b);
  const k = Math.round(rate * s.length);
  if (k <= 0) return 0;
  if (k >= s.length) return 1;
  return (s[k - 1]! + s[k]!) / 2;
}

export interface Calibration {
  threshold: number;
  skip_rate: number;
}

/**
 * Finds the threshold that makes a share `target` of the routed decisions skip. A run's gates depend
 * on the threshold (a skipped layer changes what later routers see, and the tokens generated), so
 * the threshold at the target quantile of one run's gates is tried in a new run, up to four runs,
 * keeping the one closest to the target. Greedy decoding is deterministic, so the measured runs
 * route exactly as the chosen calibration run did.
 */
export async function calibrate(
  session: DecoderSession,
  promptIds: number[],
  tokens: number,
  target: number,
): Promise<{ threshold: number; tries: Calibration[] }> {
  const tries: Calibration[] = [];
  let threshold = DEFAULT_THRESHOLD;
  for (let k = 0; k < 4; k++) {
    const gen = await generate(session, promptIds, { maxNewTokens: tokens, threshold });
    tries.push({ threshold, skip_rate: skipRate([gen]) });
    if (Math.abs(tries.at(-1)!.skip_rate - target) <= 0.02) break;
    const next = quantileThreshold(
      gen.positions.slice(promptIds.length).flatMap((p) => p.gates),
      target,
    );
    if (tries.some((t) => t.threshold === next)) break;
    threshold = next;
  }
  const best = tries.reduce((a, b) => (Math.abs(b.skip_rate - target) < Math.abs(a.skip_rate - target) ? b : a));
  return { threshold: best.threshold, tries };
}
