/**
 * Autoregressive generation on a DecoderSession, recording for every position (prompt and
 * generated) the depth computed there: router gates, the routed-layer mask and layers used.
 *
 * The pass at position i processes token i and predicts token i+1 (docs/method.md), so the record of
 * position i holds the depth spent to produce token i+1. The last generated token is also run once,
 * so every position has its depth.
 */
import type { DecoderSession } from './session.ts';
import { UserError } from '../errors.ts';
import { SeededRandom } from '../seeded-random.ts';
import { StopStringWatch, type DecodeAfter } from '../stop-strings.ts';
import { RouteChooser, type Phase, type Routing } from './routing.ts';
import { argmax, sampleToken, type SamplingOptions } from './sampling.ts';
import { DEFAULT_THRESHOLD } from './variants.ts';

export type { Phase } from './routing.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  sampling?: SamplingOptions;
  /** Token ids that end generation (kept as the last generated token). */
  eosIds?: number[];
  /** Generation ends once the decoded output contains one of these; the text is cut before it. */
  stopStrings?: string[];
  /** The text ids add after context ids (TextTokenizer.continuationText); needed for stop strings. */
  decode?: DecodeAfter;
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
 * (docs/method.md, "Which token a depth belongs to"): the last prompt position's pass produced the
 * first generated token. The store's summary reads the same pairing in SQL (src/store/summary-reads.ts).
 */
export function producingDepths(gen: Pick<Generation, 'positions' | 'promptIds'>): number[] {
  return gen.positions.slice(gen.promptIds.length - 1, -1).map((p) => p.layersUsed);
}

/** Tokens per second of `count` tokens in `ms` milliseconds; null when no time was measured. */
export function tokensPerSecond(count: number, ms: number): number | null {
  return ms > 0 ? count / (ms / 1000) : null;
}

/**
 * One sequence's generation, whatever runs its passes (generate: alone; generateBatch: with others):
 * the decisions a pass feeds, each position's recorded depth, the next token, and when to stop.
 */
class SequenceGeneration {
  readonly positions: PositionRecord[] = [];
  readonly generated: number[] = [];
  /** The token the next pass runs; -1 once the sequence is done. */
  next = -1;
  stopReason: StopReason = 'max_new_tokens';
  stopString: string | null = null;
  readonly routes: RouteChooser;
  private readonly pick: (row: Float32Array) => number;
  private readonly eos: Set<number>;
  private readonly unrouted: number;
  private readonly stopWatch: StopStringWatch | null;

  constructor(
    private readonly session: DecoderSession,
    readonly promptIds: number[],
    private readonly opts: GenerateOptions,
  ) {
    if (promptIds.length === 0) throw new Error('generate: the prompt has no tokens (use a BOS token or text)');
    const tooLong = promptContextProblem(promptIds.length, opts.maxNewTokens, session.config.maxPositionEmbeddings);
    if (tooLong !== null) throw new UserError(tooLong);
    const stops = opts.stopStrings ?? [];
    if (stops.length > 0 && !opts.decode) throw new Error('generate: stop strings need a decode function');
    this.stopWatch = stops.length > 0 ? new StopStringWatch(stops, promptIds, opts.decode!) : null;
    const routing: Routing = opts.routing ?? { kind: 'threshold', threshold: opts.threshold ?? DEFAULT_THRESHOLD };
    // `static` has no routers in its graph, but its masks still cover the routed layers.
    this.routes = new RouteChooser(routing, routing.kind === 'fixed' ? routing.keep.length : session.routedLayers.length);
    this.unrouted = session.config.numLayers - this.routes.routed;
    const rng = new SeededRandom(opts.sampling?.seed ?? 0);
    this.pick = (row) => (opts.sampling ? sampleToken(row, opts.sampling, () => rng.float()) : argmax(row));
    this.eos = new Set(opts.eosIds ?? []);
  }

  /** The decisions (random) of a pass over `count` tokens of `phase`; the last prompt position and every generated one produce a token. */
  draw(count: number, phase: Phase): boolean[] | undefined {
    return this.routes.draw(Array.from({ length: count }, (_, s) => (phase === 'generated' || s === count - 1 ? 'producing' : 'prompt')));
  }

  /** Records the depth of a pass's tokens: token s is row `at + s` of the pass's [R, rows] gates. */
  private record(ids: readonly number[], phase: Phase, gates: Float32Array, rows: number, at: number, drawn: boolean[] | undefined): void {
    const gateCount = this.session.routedLayers.length;
    ids.forEach((id, s) => {
      const mask = this.routes.mask(s, ids.length, gates.subarray(at), drawn, rows);
      const g = Array.from({ length: gateCount }, (_, r) => gates[r * rows + at + s]!);
      this.positions.push({ id, phase, gates: g, mask, layersUsed: this.unrouted + mask.filter(Boolean).length });
    });
  }

  /**
   * After the prompt's pass: its depths (its tokens are rows at.. of the pass's [R, rows] gates),
   * then the first token to generate from `last` (the logits of its last token).
   */
  afterPrompt(gates: Float32Array, drawn: boolean[] | undefined, last: Float32Array, rows = this.promptIds.length, at = 0): void {
    this.record(this.promptIds, 'prompt', gates, rows, at, drawn);
    this.next = this.opts.maxNewTokens > 0 ? this.pick(last) : -1;
  }

  /** Takes the pending token as generated, before its pass runs. */
  take(): number {
    this.generated.push(this.next);
    return this.next;
  }

  /** After the pass of the token taken: its depth (row `row` of [R, rows] gates), then the next token or the reason to stop. */
  afterToken(gates: Float32Array, rows: number, row: number, drawn: boolean[] | undefined, logits: Float32Array): void {
    const token = this.generated[this.generated.length - 1]!;
    this.record([token], 'generated', gates, rows, row, drawn);
    this.next = -1;
    if (this.eos.has(token)) this.stopReason = 'eos';
    else if (this.stopWatch !== null && (this.stopString = this.stopWatch.check(this.generated)) !== null) this.stopReason = 'stop_string';
    else if (this.generated.length >= this.opts.maxNewTokens) this.stopReason = 'max_new_tokens';
    else if (this.positions.length >= this.session.config.maxPositionEmbeddings) this.stopReason = 'context_full';
    else this.next = this.pick(logits);
  }

  result(timing: Generation['timing']): Generation {
    const { promptIds, generated: generatedIds, positions, stopReason, stopString } = this;
    return { promptIds, generatedIds, positions, stopReason, stopString, timing };
  }
}

export async function generate(session: DecoderSession, promptIds: number[], opts: GenerateOptions): Promise<Generation> {
  const seq = new SequenceGeneration(session, promptIds, opts);
  const threshold = seq.routes.threshold;
  let t0 = performance.now();
  let drawn = seq.draw(promptIds.length, 'prompt');
  const prompt = await session.prefill(promptIds, threshold, drawn);
  const prefillMs = performance.now() - t0;
  seq.afterPrompt(prompt.gates, drawn, prompt.logits);
  let cache = prompt.cache;
  t0 = performance.now();
  let decodeTokens = 0;
  while (seq.next >= 0) {
    const token = seq.take();
    // Run the new token: its depth is recorded, and its logits give the next token if we go on.
    drawn = seq.draw(1, 'generated');
    const out = await session.step([token], cache, threshold, drawn);
    cache = out.cache;
    decodeTokens++;
    seq.afterToken(out.gates, 1, 0, drawn, out.logits);
  }
  return seq.result({ prefillMs, decodeMs: performance.now() - t0, prefillTokens: promptIds.length, decodeTokens });
}

/** A prompt to generate from in a batch, with a tag the caller knows it by. */
export interface BatchRequest<T> {
  tag: T;
  promptIds: number[];
  opts: GenerateOptions;
}

/**
 * Prompts up to this many tokens join the batch through one padded pass; longer ones run alone
 * (the padding grows with the prompt length, and a routed layer whose rows split runs both paths on
 * every row, padding included).
 */
export const BATCHED_PROMPT_TOKENS = 256;

/**
 * Continuous batching: up to `maxBatch` sequences decode together, one token each per step
 * (DecoderSession.stepBatch). Waiting prompts join when rows are free, short ones in one padded pass
 * (prefillBatch), long ones alone; a finished sequence leaves at once and `next()` refills its row.
 * All requests share the session and one threshold (each step feeds one). A sequence's prefill and
 * decode times are its shares of the passes it was in (pass time / sequences), so per-sequence
 * tokens/s add up to the batch's throughput.
 */
export async function generateBatch<T>(
  session: DecoderSession,
  next: () => BatchRequest<T> | undefined,
  maxBatch: number,
  done: (tag: T, result: Generation | Error) => void,
): Promise<void> {
  const V = session.config.vocabSize;
  const batch = session.batchCache(maxBatch);
  const rows: { tag: T; seq: SequenceGeneration; prefillMs: number; decodeMs: number; decodeTokens: number }[] = [];
  let threshold: number | null = null;
  const finish = (b: number): void => {
    const row = rows[b]!;
    const moved = batch.remove(b);
    if (moved !== null) rows[b] = rows[moved]!;
    rows.pop();
    done(
      row.tag,
      row.seq.result({ prefillMs: row.prefillMs, decodeMs: row.decodeMs, prefillTokens: row.seq.promptIds.length, decodeTokens: row.decodeTokens }),
    );
  };
  /** Runs the prompts of `group` (one pass) and adds them to the batch, in order. */
  const prefill = async (group: { tag: T; seq: SequenceGeneration }[]): Promise<void> => {
    const t0 = performance.now();
    const draws = group.map(({ seq }) => seq.draw(seq.promptIds.length, 'prompt'));
    if (group.length === 1) {
      const { seq } = group[0]!;
      const out = await session.prefill(seq.promptIds, threshold!, draws[0]);
      batch.add(out.cache);
      seq.afterPrompt(out.gates, draws[0], out.logits);
    } else {
      const prompts = group.map(({ seq }) => seq.promptIds);
      const S = Math.max(...prompts.map((p) => p.length));
      const R = draws[0]?.length === undefined ? 0 : draws[0].length / prompts[0]!.length;
      // Layer-major [R, B, S]; padding never runs a full path.
      const routeFull =
        draws[0] === undefined
          ? undefined
          : Array.from({ length: R * group.length * S }, (_, i) => {
              const [r, b, s] = [Math.floor(i / (group.length * S)), Math.floor(i / S) % group.length, i % S];
              return s < prompts[b]!.length && draws[b]![r * prompts[b]!.length + s]!;
            });
      const out = await session.prefillBatch(prompts, batch, threshold!, routeFull);
      group.forEach(({ seq }, b) => seq.afterPrompt(out.gates, draws[b], out.logits.subarray(b * V, (b + 1) * V), group.length * S, b * S));
    }
    const share = (performance.now() - t0) / group.length;
    for (const { tag, seq } of group) rows.push({ tag, seq, prefillMs: share, decodeMs: 0, decodeTokens: 0 });
    const first = rows.length - group.length;
    for (let b = rows.length - 1; b >= first; b--) if (rows[b]!.seq.next < 0) finish(b);
  };
  /** Takes requests into the free rows (a request that cannot run is reported and skipped). */
  const fill = async (): Promise<void> => {
    const joining: { tag: T; seq: SequenceGeneration }[] = [];
    let request: BatchRequest<T> | undefined;
    while (rows.length + joining.length < maxBatch && (request = next()) !== undefined) {
      try {
        const seq = new SequenceGeneration(session, request.promptIds, request.opts);
        threshold ??= seq.routes.threshold;
        if (seq.routes.threshold !== threshold) throw new Error(`generateBatch: thresholds ${threshold} and ${seq.routes.threshold} in one batch`);
        joining.push({ tag: request.tag, seq });
      } catch (err) {
        done(request.tag, err as Error);
      }
    }
    const short = joining.filter((j) => j.seq.promptIds.length <= BATCHED_PROMPT_TOKENS);
    const long = joining.filter((j) => j.seq.promptIds.length > BATCHED_PROMPT_TOKENS);
    for (const group of [...(short.length > 0 ? [short] : []), ...long.map((j) => [j])]) await prefill(group);
  };
  await fill();
  while (rows.length > 0) {
    const B = rows.length;
    const ids = rows.map((r) => r.seq.take());
    const draws = rows.map((r) => r.seq.draw(1, 'generated'));
    // Layer-major [R, B], as the graph takes route_full.
    const routeFull = draws[0] === undefined ? undefined : Array.from({ length: draws[0].length * B }, (_, i) => draws[i % B]![Math.floor(i / B)]!);
    const t0 = performance.now();
    const out = await session.stepBatch(ids, batch, threshold ?? DEFAULT_THRESHOLD, routeFull);
    const share = (performance.now() - t0) / B;
    rows.forEach((r, b) => {
      r.decodeMs += share;
      r.decodeTokens++;
      r.seq.afterToken(out.gates, B, b, draws[b], out.logits.subarray(b * V, (b + 1) * V));
    });
    for (let b = B - 1; b >= 0; b--) if (rows[b]!.seq.next < 0) finish(b);
    await fill();
  }
}
