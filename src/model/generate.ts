/**
 * Autoregressive generation on a DecoderSession, recording for every position (prompt and
 * generated) the depth computed there: router gates, the routed-layer mask and layers used.
 *
 * The pass at position i processes token i and predicts token i+1 (FLEXIDEPTH.md), so the record of
 * position i holds the depth spent to produce token i+1. The last generated token is also run once,
 * so every position has its depth.
 */
import type { DecoderSession, KvCache, StepResult } from './session.ts';
import { UserError } from '../errors.ts';
import { SeededRandom } from '../seeded-random.ts';
import { firstStop } from '../stop-strings.ts';
import { RouteChooser, type Phase, type Routing } from './routing.ts';
import { argmax, sampleToken, type SamplingOptions } from './sampling.ts';

export type { Phase } from './routing.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  sampling?: SamplingOptions;
  /** Token ids that end generation (kept as the last generated token). */
  eosIds?: number[];
  /** Generation ends once the decoded output contains one of these; the text is cut before it. */
  stopStrings?: string[];
  /** The text of the generated ids (TextTokenizer.continuationText after the prompt); needed for stop strings. */
  decode?: (ids: number[]) => string;
  threshold?: number;
  /** How routed layers are decided; default: gate > `threshold` (FlexiDepth). */
  routing?: Routing;
}

export interface PositionRecord {
  id: number;
  phase: Phase;
  /** Gate of each routed layer (layer order); empty for the full and static variants. */
  gates: number[];
  /** Whether each routed layer took the full path (flexidepth: gate > threshold; static: kept; random: drawn). */
  mask: boolean[];
  layersUsed: number;
}

export type StopReason = 'eos' | 'stop_string' | 'max_new_tokens' | 'context_full';

export interface Generation {
  promptIds: number[];
  generatedIds: number[];
  positions: PositionRecord[];
  stopReason: StopReason;
  /** The stop string that ended generation, if any. */
  stopString: string | null;
  timing: { prefillMs: number; decodeMs: number; prefillTokens: number; decodeTokens: number };
}

/**
 * Why a prompt of this length cannot be generated from, or null. Every position the model runs needs
 * a rotary position below max_position_embeddings: with tokens to generate, the first generated
 * token is run at position promptTokens, so the prompt must leave it room. (`run` stores this
 * message as the reason a sample failed.)
 */
export function promptContextProblem(promptTokens: number, maxNewTokens: number, maxPositions: number): string | null {
  if (promptTokens > maxPositions) return `the prompt has ${promptTokens} tokens, more than the model's ${maxPositions} positions`;
  if (promptTokens === maxPositions && maxNewTokens > 0)
    return `the prompt has ${promptTokens} tokens, all of the model's ${maxPositions} positions, leaving none to generate`;
  return null;
}

/**
 * Layers used to produce each generated token: the depth of the pass at the position before it
 * (FLEXIDEPTH.md, "Which token a depth belongs to"): the last prompt position's pass produced the
 * first generated token. The store's summary reads the same pairing in SQL (src/store/summary-reads.ts).
 */
export function producingDepths(gen: Pick<Generation, 'positions' | 'promptIds'>): number[] {
  return gen.positions.slice(gen.promptIds.length - 1, -1).map((p) => p.layersUsed);
}

/** Tokens per second of `count` tokens in `ms` milliseconds; null when no time was measured. */
export function tokensPerSecond(count: number, ms: number): number | null {
  return ms > 0 ? count / (ms / 1000) : null;
}

export async function generate(session: DecoderSession, promptIds: number[], opts: GenerateOptions): Promise<Generation> {
  if (promptIds.length === 0) throw new Error('generate: the prompt has no tokens (use a BOS token or text)');
  const maxPositions = session.config.maxPositionEmbeddings;
  const tooLong = promptContextProblem(promptIds.length, opts.maxNewTokens, maxPositions);
  if (tooLong !== null) throw new UserError(tooLong);
  const routing: Routing = opts.routing ?? { kind: 'threshold', threshold: opts.threshold ?? 0.5 };
  // `static` has no routers in its graph, but its masks still cover the routed layers.
  const routes = new RouteChooser(routing, routing.kind === 'fixed' ? routing.keep.length : session.routedLayers.length);
  const threshold = routes.threshold;
  const R = routes.routed;
  const unrouted = session.config.numLayers - R;
  const rng = new SeededRandom(opts.sampling?.seed ?? 0);
  const random = (): number => rng.float();
  const pick = (row: Float32Array): number => (opts.sampling ? sampleToken(row, opts.sampling, random) : argmax(row));
  const stops = opts.stopStrings ?? [];
  if (stops.length > 0 && !opts.decode) throw new Error('generate: stop strings need a decode function');
  const eos = new Set(opts.eosIds ?? []);

  const positions: PositionRecord[] = [];
  const gateCount = session.routedLayers.length;
  /** Runs a step on `ids` and records each position's depth. */
  const step = async (ids: number[], phase: Phase, from: KvCache): Promise<StepResult> => {
    const S = ids.length;
    // The last prompt position and every generated one produce a generated token.
    const drawn = routes.draw(ids.map((_, s) => (phase === 'generated' || s === S - 1 ? 'producing' : 'prompt')));
    const out = await session.step(ids, from, threshold, drawn);
    for (let s = 0; s < S; s++) {
      const mask = routes.mask(s, S, out.gates, drawn);
      const gates = Array.from({ length: gateCount }, (_, r) => out.gates[r * S + s]!);
      positions.push({ id: ids[s]!, phase, gates, mask, layersUsed: unrouted + mask.filter(Boolean).length });
    }
    return out;
  };

  const V = session.config.vocabSize;
  let cache: KvCache = session.emptyCache();
  let t0 = performance.now();
  const first = await step(promptIds, 'prompt', cache);
  const prefillMs = performance.now() - t0;
  cache = first.cache;

  const generated: number[] = [];
  let next = opts.maxNewTokens > 0 ? pick(first.logits.subarray(first.logits.length - V)) : -1;
  let stopReason: StopReason = 'max_new_tokens';
  let stopString: string | null = null;
  t0 = performance.now();
  let decodeTokens = 0;
  while (next >= 0) {
    generated.push(next);
    // Run the new token: its depth is recorded, and its logits give the next token if we go on.
    const out = await step([next], 'generated', cache);
    decodeTokens++;
    cache = out.cache;
    if (eos.has(next)) {
      stopReason = 'eos';
      break;
    }
    if (stops.length > 0 && (stopString = firstStop(opts.decode!(generated), stops)) !== null) {
      stopReason = 'stop_string';
      break;
    }
    if (generated.length >= opts.maxNewTokens) break;
    if (positions.length >= maxPositions) {
      stopReason = 'context_full';
      break;
    }
    next = pick(out.logits);
  }
  return {
    promptIds,
    generatedIds: generated,
    positions,
    stopReason,
    stopString,
    timing: { prefillMs, decodeMs: performance.now() - t0, prefillTokens: promptIds.length, decodeTokens },
  };
}
