/**
 * How a generation's routed-layer decisions are made, per variant, as plain data that travels to a
 * worker: FlexiDepth compares its gates with a threshold; `static` keeps a fixed set of routed
 * layers; `random` draws each decision (docs/method.md, "Comparators"). The draws are seeded per
 * document, in position order, so a sample redone after an interruption draws the same decisions.
 *
 * `random` has two rate sets because FlexiDepth routes differently where it reads the prompt and
 * where it produces an answer: a position is `producing` when its pass predicts a generated token
 * (the last prompt position and every generated one), the depth "layers used" counts; `prompt`
 * positions are the rest of the prompt.
 */
import { createHash } from 'node:crypto';
import { SeededRandom } from '../seeded-random.ts';
import { DEFAULT_THRESHOLD } from './variants.ts';

export type Phase = 'prompt' | 'generated';

/** Which rate set a `random` decision is drawn from (see the header). */
export type RateSet = 'prompt' | 'producing';

export type Routing =
  /** Full path iff gate > threshold (flexidepth; full has no routed layers). */
  | { kind: 'threshold'; threshold: number }
  /** `static`: routed layer r is kept (true) or removed (false) for every token. */
  | { kind: 'fixed'; keep: readonly boolean[] }
  /** `random`: routed layer r takes its full path with probability rates[set][r], drawn from `seed`. */
  | { kind: 'random'; seed: number; rates: Readonly<Record<RateSet, readonly number[]>> };

/** The draw seed of one document of a `random` run: 52 bits of sha256(run seed, doc id). */
export function documentSeed(runSeed: number, docId: string): number {
  return parseInt(createHash('sha256').update(`${runSeed}\0${docId}`).digest('hex').slice(0, 13), 16);
}

/** One generation's decisions: what to feed a step (random) and each token's mask after it. */
export class RouteChooser {
  private readonly random: SeededRandom | null;

  /** `routed`: the number of routed layers the masks cover. */
  constructor(
    private readonly routing: Routing,
    readonly routed: number,
  ) {
    if (routing.kind === 'fixed' && routing.keep.length !== routed) throw new Error(`static routing keeps ${routing.keep.length} of ${routed} routed layers`);
    if (routing.kind === 'random') {
      for (const set of ['prompt', 'producing'] as const) {
        if (routing.rates[set].length !== routed) throw new Error(`random routing has ${routing.rates[set].length} ${set} rates for ${routed} routed layers`);
      }
    }
    this.random = routing.kind === 'random' ? new SeededRandom(routing.seed) : null;
  }

  /** The threshold a FlexiDepth step compares its gates with (other graphs ignore it). */
  get threshold(): number {
    return this.routing.kind === 'threshold' ? this.routing.threshold : DEFAULT_THRESHOLD;
  }

  /**
   * Before a step: the `random` graph's decisions for its tokens, layer-major [R*S], each token
   * drawn from the rate set `sets[s]`; undefined for the other variants.
   */
  draw(sets: readonly RateSet[]): boolean[] | undefined {
    if (this.routing.kind !== 'random') return undefined;
    const S = sets.length;
    const out = new Array<boolean>(this.routed * S);
    // Token by token, layer by layer: the stream does not depend on how tokens are grouped into steps.
    for (let s = 0; s < S; s++) {
      const rates = this.routing.rates[sets[s]!];
      for (let r = 0; r < this.routed; r++) out[r * S + s] = this.random!.float() < rates[r]!;
    }
    return out;
  }

  /**
   * After the step: token s's mask, from its gates (layer-major, `stride` per layer: [R, stride]) or
   * from this sequence's draws for the step's S tokens ([R*S], layer-major).
   */
  mask(s: number, S: number, gates: Float32Array, drawn: boolean[] | undefined, stride = S): boolean[] {
    switch (this.routing.kind) {
      case 'fixed':
        return [...this.routing.keep];
      case 'random':
        return Array.from({ length: this.routed }, (_, r) => drawn![r * S + s]!);
      case 'threshold': {
        const threshold = this.routing.threshold;
        return Array.from({ length: this.routed }, (_, r) => gates[r * stride + s]! > threshold);
      }
    }
  }
}
