/**
 * `flexibench bench (--model DIR | --synthetic HIDDEN:LAYERS)`
 *
 * Decode speed of `full` vs `flexidepth` built from one checkpoint, against the speed ratio their
 * work allows. One JSON document per call with --json, a short summary otherwise.
 *
 * How it measures (the machine is shared and noisy; issue 14):
 * - One intra-op thread unless --threads says otherwise: with more, per-round values scattered 5x.
 * - Four sessions, created in ABBA order (full, flexidepth, flexidepth, full): the first session a
 *   process creates was measured ~5% slower, so each variant gets one early and one late session
 *   and every round runs all four (in ABBA order, reversed every other round) after one warm-up
 *   each. A round's value for a variant is the mean of its two sessions, so neither creation order
 *   nor run order favours a variant; `sessions_ms_per_step` shows what the order costs. When four
 *   sessions do not fit in the free memory, one per variant, run in alternating order
 *   (`session_layout`, and a note on stderr).
 * - Weights read per decode step (weight-traffic.ts, for the observed routing, batch 1) over the
 *   step time is the stream a variant achieves, against this thread's memory read bandwidth,
 *   probed in this process once the rounds are done (memory-bandwidth.ts).
 * - A run's value is its per-step time: decode ms / decode steps (greedy, no EOS, so every run
 *   decodes --tokens steps). Reported: the median over rounds, with min and max.
 * - --batch B: a run decodes B sequences together (generateBatch; the given prompt and B - 1 seeded
 *   random prompts of its length, so rows route differently); a step yields B tokens, so tokens/s
 *   is B x 1000 / ms per step, and multiply-adds per step add up the rows.
 * - decode_speed_ratio = full ms per step / flexidepth ms per step: the median over rounds of each
 *   round's own ratio (paired runs, steady under a load that drifts between rounds), with its min and
 *   max; decode_speed_ratio_of_medians is the quotient of the variants' medians. ideal_speed_ratio = full
 *   multiply-adds per step / flexidepth multiply-adds per step, for the routing actually observed
 *   at the measured steps and their context lengths (src/model/path-cost.ts: router, adapter and
 *   the K/V a skipped token still computes included). efficiency = decode / ideal.
 */
import { statfsSync } from 'node:fs';
import { freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { expectedTensors, type Checkpoint } from '../../src/model/checkpoint.ts';
import { FLEXIDEPTH_REDUCTION, parseModelConfig } from '../../src/model/config.ts';
import { heldWeightBytes, weightWidths } from '../../src/model/held-weights.ts';
import { generate, generateBatch, producingDepths, promptContextProblem, tokensPerSecond, type Generation } from '../../src/model/generate.ts';
import { isQuantized, requireVariant, type Variant } from '../../src/model/graph-builder.ts';
import { decodeStepMultiplyAdds } from '../../src/model/path-cost.ts';
import { DecoderSession, requireExecutionProvider } from '../../src/model/session.ts';
import {
  NAMED_SHAPES,
  syntheticCheckpointBytes,
  syntheticConfig,
  writeSyntheticCheckpoint,
  type SyntheticShape,
} from '../../src/model/synthetic-checkpoint.ts';
import { SeededRandom } from '../../src/seeded-random.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { defineCommand, flag, integer, real, text, type OptionValues } from '../args.ts';
import {
  benchMemoryBytes,
  gigabytes,
  memoryShortfall,
  SESSION_ORDERS,
  sessionLayout,
  syntheticDiskBytes,
  type BenchShape,
  type SessionLayout,
} from '../bench-budget.ts';
import { measureMemoryReadBandwidth } from '../../src/model/memory-bandwidth.ts';
import { decodeStepWeightBytes } from '../../src/model/weight-traffic.ts';
import { loadCheckpointTimed, openSessionsMeasured, peakRssBytes } from '../bench-scale.ts';
import { MODEL_OPTIONS } from '../model-options.ts';
import { BATCH, BENCH_POSITIONS, ROUNDS, SEED, THREADS } from '../option-ranges.ts';
import { withTempFolder } from '../temp-folder.ts';

const DEFAULT_PROMPT = 'Once upon a time';
const DEFAULT_SYNTHETIC_CONTEXT = 16;
const DEFAULT_THRESHOLD = 0.5;

/**
 * --synthetic's range: HIDDEN up to Llama-3-70B's 8192 and LAYERS up to 128 (Llama-3.1-405B has
 * 126), the shapes of the family. The writer holds each file in one buffer, which Node caps at
 * 4 GiB; at 8192 the largest file, a routed layer, is about 3 GB. Whether a shape fits this
 * machine's disk and memory is checked against the shape itself before anything is written
 * (bench-budget.ts).
 */
const SYNTHETIC_HIDDEN = { min: 64, max: 8192, multiple: 64 } as const;
const SYNTHETIC_LAYERS = { min: 2, max: 128 } as const;
const SYNTHETIC_WORDS = `HIDDEN:LAYERS with HIDDEN a multiple of ${SYNTHETIC_HIDDEN.multiple} from ${SYNTHETIC_HIDDEN.min} to ${SYNTHETIC_HIDDEN.max} and LAYERS from ${SYNTHETIC_LAYERS.min} to ${SYNTHETIC_LAYERS.max}, or a real model's shape: ${Object.keys(NAMED_SHAPES).join(', ')}`;

const OPTIONS = {
  model: text('DIR', 'checkpoint folder (Hugging Face layout); or --synthetic'),
  synthetic: text(
    'HIDDEN:LAYERS|NAME',
    `instead of --model: a Llama-shaped FlexiDepth checkpoint with random weights of this size (${SYNTHETIC_WORDS}), routing on the second half of the layers, written to a temporary folder ($TMPDIR) and removed after, also when interrupted`,
  ),
  ep: MODEL_OPTIONS.ep,
  threads: integer('N', 'intra-op threads of each session', { ...THREADS, default: 1 }),
  prompt: text('TEXT', 'the prompt both variants continue', { defaultText: `'${DEFAULT_PROMPT}'; with --synthetic, --context ${DEFAULT_SYNTHETIC_CONTEXT}` }),
  context: integer('N', 'instead of --prompt: a synthetic prompt of N tokens (BOS, then seeded random ids)', { ...BENCH_POSITIONS }),
  tokens: integer('N', 'tokens decoded per run', { ...BENCH_POSITIONS, default: 128 }),
  rounds: integer('K', 'measured rounds, each running every session once, after one warm-up each', { ...ROUNDS, default: 5 }),
  threshold: real('T', 'router threshold of flexidepth', { min: 0, max: 1, defaultText: String(DEFAULT_THRESHOLD) }),
  skipRate: real('R', 'instead of --threshold: the threshold at which a share R of the routed decisions at the decode steps skip, found by calibration runs', {
    min: 0,
    max: 1,
  }),
  seed: integer('S', 'seed of the synthetic checkpoint and the synthetic prompt', { ...SEED, default: 1 }),
  batch: integer('B', 'sequences decoded together per step (the prompt, then B - 1 seeded random prompts of its length)', { ...BATCH, default: 1 }),
  precision: MODEL_OPTIONS.precision,
  blockSize: MODEL_OPTIONS.blockSize,
  json: flag('print the result as one JSON document'),
};

type Options = OptionValues<typeof OPTIONS>;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[]): { min: number; max: number } => ({ min: Math.min(...xs), max: Math.max(...xs) });
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

interface SyntheticSize {
  hiddenSize: number;
  numLayers: number;
  /** A named shape's fixed dimensions. */
  shape?: SyntheticShape;
}

/** HIDDEN:LAYERS, e.g. 1024:16, within SYNTHETIC_HIDDEN and SYNTHETIC_LAYERS, or a NAMED_SHAPES name. */
function parseSynthetic(spec: string): SyntheticSize {
  const named = Object.hasOwn(NAMED_SHAPES, spec.trim()) ? NAMED_SHAPES[spec.trim()] : undefined;
  if (named !== undefined) return named;
  const m = /^(\d{1,6}):(\d{1,6})$/.exec(spec.trim());
  const hiddenSize = Number(m?.[1]);
  const numLayers = Number(m?.[2]);
  const h = SYNTHETIC_HIDDEN;
  const l = SYNTHETIC_LAYERS;
  if (!m || hiddenSize < h.min || hiddenSize > h.max || hiddenSize % h.multiple !== 0 || numLayers < l.min || numLayers > l.max) {
    throw new UserError(`bench: --synthetic must be ${SYNTHETIC_WORDS} (e.g. 1024:16), got '${spec}'`);
  }
  return { hiddenSize, numLayers };
}

/** Positions a synthetic checkpoint declares: the run's prompt and decode steps, and at least the common 2048. */
const syntheticPositions = (context: number, tokens: number): number => Math.max(2048, context + tokens);

/**
 * Refuses a synthetic size this machine cannot hold, before anything is written: the checkpoint
 * and its graphs must fit the temporary folder's free space, and the weights, sessions and KV
 * caches the free memory.
 */
function refuseUnfitSynthetic(o: Options, size: SyntheticSize, context: number): SessionLayout {
  const options = { ...size, maxPositions: syntheticPositions(context, o.tokens) };
  const config = parseModelConfig(syntheticConfig(options), '--synthetic');
  // What the graphs hold at the precision: the sessions' weights, and each graph's bytes on disk.
  const weightBytes = heldWeightBytes(expectedTensors(config, config.intermediateSize / FLEXIDEPTH_REDUCTION), o.precision, false, o.blockSize);
  const checkpointBytes = syntheticCheckpointBytes(options);
  const temp = tmpdir();
  const disk = statfsSync(temp);
  const freeDisk = disk.bavail * disk.bsize;
  const needDisk = syntheticDiskBytes(checkpointBytes, weightBytes);
  if (needDisk > freeDisk) {
    throw new UserError(
      `bench: --synthetic ${o.synthetic} needs ~${gigabytes(needDisk)} in ${temp} (its ${gigabytes(checkpointBytes)} BF16 checkpoint and the two float32 graphs built from it), but ${gigabytes(freeDisk)} is free there; choose a smaller size or point TMPDIR at a larger disk`,
    );
  }
  return refuseUnfitMemory(`--synthetic ${o.synthetic}`, 'HIDDEN:LAYERS', {
    config,
    weightBytes,
    precision: o.precision,
    batch: o.batch,
    promptTokens: context,
    decodeTokens: o.tokens,
  });
}

/**
 * Refuses a benchmark whose weights, sessions and KV caches cannot fit in this machine's memory,
 * chooses four sessions or one per variant by what is free now, and says so when even that may
 * not fit; `what` names the option at fault, `smaller` what to shrink.
 */
function refuseUnfitMemory(what: string, smaller: string, shape: BenchShape): SessionLayout {
  const why = memoryShortfall(shape, totalmem());
  if (why !== null) throw new UserError(`bench: ${what} ${why}; choose a smaller ${smaller}, --batch or --context`);
  const free = freemem();
  const layout = sessionLayout(shape, free);
  const need = benchMemoryBytes(shape, layout).total;
  if (layout !== 'abba') {
    process.stderr.write(
      `bench: note: four sessions of ${what} would need ~${gigabytes(benchMemoryBytes(shape, 'abba').total)}, more than the ${gigabytes(free)} free: one session per variant, in alternating order\n`,
    );
  }
  if (need > free) process.stderr.write(`bench: note: ${what} may need ~${gigabytes(need)} of memory, more than the ${gigabytes(free)} free now\n`);
  return layout;
}

/** BOS (when the model has one), then seeded random ids that are neither BOS nor EOS: N tokens. */
function syntheticPrompt(ckpt: Checkpoint, n: number, seed: number): number[] {
  const { bosTokenId, eosTokenIds, vocabSize } = ckpt.config;
  const special = new Set([...(bosTokenId === null ? [] : [bosTokenId]), ...eosTokenIds]);
  const rng = new SeededRandom(seed);
  const ids = bosTokenId === null ? [] : [bosTokenId];
  while (ids.length < n) {
    const id = rng.int(0, vocabSize - 1);
    if (!special.has(id)) ids.push(id);
  }
  return ids;
}

/** The decode steps of a run: positions from the first generated token on (each ran as one step). */
const decodeSteps = (gen: Generation) => gen.positions.slice(gen.promptIds.length).map((p, k) => ({ mask: p.mask, keys: gen.promptIds.length + k + 1 }));

/** Share of the routed decisions at the decode steps that took the skip path. */
function skipRate(gens: Generation[]): number {
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

interface Calibration {
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
async function calibrate(session: DecoderSession, promptIds: number[], tokens: number, target: number): Promise<{ threshold: number; tries: Calibration[] }> {
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

interface Run {
  msPerStep: number;
  prefillTokensPerS: number;
  /** One per sequence of the batch. */
  gens: Generation[];
}

async function bench(o: Options): Promise<void> {
  if ((o.model === undefined) === (o.synthetic === undefined)) throw new UserError('bench: give --model DIR or --synthetic HIDDEN:LAYERS (one of them)');
  if (o.prompt !== undefined && o.context !== undefined) throw new UserError('bench: give --prompt or --context, not both');
  if (o.threshold !== undefined && o.skipRate !== undefined) throw new UserError('bench: give --threshold or --skip-rate, not both');
  if (o.synthetic !== undefined && o.prompt !== undefined) throw new UserError('bench: --synthetic has no tokenizer; use --context N instead of --prompt');
  const size = o.synthetic === undefined ? null : parseSynthetic(o.synthetic);
  // Before writing or building anything: a missing provider, or a size that cannot fit, is one line, at once.
  await requireExecutionProvider(o.ep);
  if (size === null) return measure(o, loadCheckpointTimed(o.model!), null, undefined, null);
  const context = o.context ?? DEFAULT_SYNTHETIC_CONTEXT;
  const layout = refuseUnfitSynthetic(o, size, context);
  // The checkpoint and the graphs built from it are gigabytes at the larger sizes: removed however bench ends.
  await withTempFolder('flexibench-synthetic-', 'bench', async (temp) => {
    const dir = join(temp, 'model');
    process.stderr.write(`bench: writing a synthetic checkpoint ${o.synthetic} to ${dir}\n`);
    await writeSyntheticCheckpoint(dir, { ...size, maxPositions: syntheticPositions(context, o.tokens), seed: o.seed });
    await measure(o, loadCheckpointTimed(dir), size, join(temp, 'cache'), layout);
  });
}

async function measure(
  o: Options,
  { ckpt, loadSeconds }: { ckpt: Checkpoint; loadSeconds: number },
  size: SyntheticSize | null,
  cacheDir: string | undefined,
  syntheticLayout: SessionLayout | null,
): Promise<void> {
  requireVariant(ckpt, 'flexidepth');
  const { tokens, rounds } = o;
  const cfg = ckpt.config;
  const context = o.context ?? (size !== null ? DEFAULT_SYNTHETIC_CONTEXT : undefined);
  const promptIds =
    context !== undefined
      ? syntheticPrompt(ckpt, context, o.seed)
      : TextTokenizer.load(ckpt.dir)
          .requireModelVocab(ckpt.config.vocabSize)
          .encode(o.prompt ?? DEFAULT_PROMPT, true);
  const tooLong = promptContextProblem(promptIds.length, tokens, cfg.maxPositionEmbeddings);
  if (tooLong !== null || promptIds.length + tokens > cfg.maxPositionEmbeddings) {
    throw new UserError(
      `bench: ${promptIds.length} prompt tokens + ${tokens} decoded do not fit the model's ${cfg.maxPositionEmbeddings} positions; lower --context or --tokens`,
    );
  }
  // Loading read only the headers: the weights' size is known before anything is built.
  const layout =
    syntheticLayout ??
    refuseUnfitMemory(`--model ${ckpt.dir}`, 'model', {
      config: cfg,
      weightBytes: heldWeightBytes(
        [...ckpt.tensors].map(([name, t]) => [name, t.shape]),
        o.precision,
        cfg.tieWordEmbeddings,
        o.blockSize,
      ),
      precision: o.precision,
      batch: o.batch,
      promptTokens: promptIds.length,
      decodeTokens: tokens,
    });

  const order: readonly Variant[] = SESSION_ORDERS[layout];
  const { sessions, scale } = await openSessionsMeasured(ckpt, loadSeconds, order, {
    precision: o.precision,
    blockSize: o.blockSize,
    executionProvider: o.ep,
    intraOpThreads: o.threads,
    ...(cacheDir !== undefined ? { cacheDir } : {}),
  });

  let threshold = o.threshold ?? DEFAULT_THRESHOLD;
  let calibration: Calibration[] | null = null;
  if (o.skipRate !== undefined) {
    const c = await calibrate(sessions[1]!, promptIds, tokens, o.skipRate);
    threshold = c.threshold;
    calibration = c.tries;
    process.stderr.write(`bench: --skip-rate ${o.skipRate}: threshold ${threshold} (${c.tries.length} calibration runs)\n`);
  }

  const prompts = [promptIds, ...Array.from({ length: o.batch - 1 }, (_, b) => syntheticPrompt(ckpt, promptIds.length, o.seed + 1 + b))];
  // Greedy decoding without EOS: every sequence decodes exactly `tokens` tokens, in `tokens` steps.
  const once = async (s: DecoderSession): Promise<Run> => {
    const gens: Generation[] = [];
    if (o.batch === 1) gens.push(await generate(s, promptIds, { maxNewTokens: tokens, threshold }));
    else {
      const queue = prompts.map((ids, tag) => ({ tag, promptIds: ids, opts: { maxNewTokens: tokens, threshold } }));
      await generateBatch(
        s,
        () => queue.shift(),
        o.batch,
        (_tag, result) => {
          if (result instanceof Error) throw result;
          gens.push(result);
        },
      );
    }
    // Per-sequence times are shares of the batch's passes: their sums are the batch's times.
    const sum = (f: (g: Generation) => number): number => gens.reduce((n, g) => n + f(g), 0);
    return {
      msPerStep: sum((g) => g.timing.decodeMs) / tokens,
      prefillTokensPerS:
        tokensPerSecond(
          sum((g) => g.timing.prefillTokens),
          sum((g) => g.timing.prefillMs),
        ) ?? Number.NaN,
      gens,
    };
  };
  for (const s of sessions) await once(s);
  const runs: Run[][] = sessions.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const forward = order.map((_, k) => k);
    const seq = r % 2 === 0 ? forward : forward.reverse();
    for (const k of seq) runs[k]!.push(await once(sessions[k]!));
    const line = (v: Variant): string =>
      order
        .map((w, k) => (w === v ? runs[k]!.at(-1)!.msPerStep.toFixed(3) : null))
        .filter((x) => x !== null)
        .join(' / ');
    process.stderr.write(`bench: round ${r + 1}/${rounds}: ms per decode step full ${line('full')}, flexidepth ${line('flexidepth')}\n`);
  }
  scale.peak_rss_bytes = peakRssBytes();
  for (const s of sessions) await s.release();
  // After the sessions are gone: its buffers then neither count in what a session added nor raise
  // the peak, and it reads the memory the decode steps read from.
  const bandwidth = measureMemoryReadBandwidth();

  const of = (v: Variant): Run[][] => runs.filter((_, k) => order[k] === v);
  const perRound = (v: Variant): number[] => Array.from({ length: rounds }, (_, r) => mean(of(v).map((rs) => rs[r]!.msPerStep)));
  // Multiply-adds per step over every measured step (the same context lengths in both variants).
  const flexiGens = of('flexidepth')
    .flat()
    .flatMap((r) => r.gens);
  const steps = flexiGens.flatMap(decodeSteps);
  // Per batched step: the rows' multiply-adds added up.
  const macs = (v: Variant): number =>
    o.batch * mean(steps.map((s) => decodeStepMultiplyAdds(cfg, s.keys, v === 'full' ? null : s.mask, ckpt.adapterSize || undefined)));
  // At batch 1 a step reads each weight of the path it takes once; the rows of a batch share the
  // reads of the paths any of them takes, which per-sequence masks do not pair up, so only batch 1 is counted.
  const weightsRead = (v: Variant): number | null =>
    o.batch === 1
      ? mean(steps.map((s) => decodeStepWeightBytes(cfg, v === 'full' ? null : s.mask, ckpt.adapterSize || undefined, weightWidths(o.precision, o.blockSize))))
      : null;
  const summary = (v: Variant) => {
    const ms = perRound(v);
    const all = of(v).flat();
    const depths = all.flatMap((r) => r.gens.flatMap(producingDepths));
    const msPerStep = median(ms);
    const read = weightsRead(v);
    const readPerS = read === null ? null : read / (msPerStep / 1000);
    return {
      decode_ms_per_step: msPerStep,
      decode_ms_per_step_spread: spread(ms),
      decode_tokens_per_s: (o.batch * 1000) / msPerStep,
      prefill_tokens_per_s: median(all.map((r) => r.prefillTokensPerS)),
      layers_used_mean: mean(depths),
      multiply_adds_per_step: macs(v),
      weight_bytes_read_per_step: read,
      weight_read_bytes_per_s: readPerS,
      bandwidth_fraction: readPerS === null ? null : readPerS / bandwidth.bytes_per_s,
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
  const decodeSpeedRatio = median(roundRatios);
  const idealSpeedRatio = full.multiply_adds_per_step / flexidepth.multiply_adds_per_step;
  const doc = {
    model: size === null ? ckpt.dir : null,
    synthetic:
      size === null
        ? null
        : {
            shape: size.shape === undefined ? null : o.synthetic,
            hidden_size: size.hiddenSize,
            layers: size.numLayers,
            intermediate_size: cfg.intermediateSize,
            vocab_size: cfg.vocabSize,
            seed: o.seed,
          },
    model_hash: ckpt.contentHash,
    execution_provider: o.ep,
    intra_op_threads: o.threads,
    precision: o.precision,
    block_size: isQuantized(o.precision) ? o.blockSize : null,
    prompt_tokens: promptIds.length,
    decode_tokens: tokens,
    batch: o.batch,
    rounds,
    session_layout: layout,
    session_order: order,
    threshold,
    skip_rate_target: o.skipRate ?? null,
    skip_rate: skipRate(flexiGens),
    calibration,
    layers_total: cfg.numLayers,
    routing_layers: cfg.routingLayers,
    full,
    flexidepth,
    decode_speed_ratio: decodeSpeedRatio,
    decode_speed_ratio_spread: spread(roundRatios),
    decode_speed_ratio_of_medians: full.decode_ms_per_step / flexidepth.decode_ms_per_step,
    ideal_speed_ratio: idealSpeedRatio,
    efficiency: decodeSpeedRatio / idealSpeedRatio,
    memory_read_bandwidth: bandwidth,
    scale,
  };
  if (o.json) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  const f = (x: number, n = 3): string => x.toFixed(n);
  const bytes = (n: number): string => (Math.abs(n) >= 1e9 ? gigabytes(n) : `${(n / 1e6).toFixed(1)} MB`);
  const variantLine = (v: Variant, s: typeof full): string =>
    `${v.padEnd(10)} ${f(s.decode_ms_per_step)} ms/step (${f(s.decode_ms_per_step_spread.min)}-${f(s.decode_ms_per_step_spread.max)}), ${f(s.decode_tokens_per_s, 1)} tokens/s, prefill ${f(s.prefill_tokens_per_s, 0)} tokens/s, ${f(s.layers_used_mean, 2)} of ${cfg.numLayers} layers\n`;
  process.stdout.write(
    `${doc.model ?? `synthetic ${o.synthetic}`}: ${promptIds.length} prompt tokens, ${tokens} decoded${o.batch > 1 ? ` by each of ${o.batch} sequences together` : ''}, median of ${rounds} rounds, ${o.threads} thread(s), ${o.precision} weights, threshold ${f(threshold, 4)} (skip rate ${f(doc.skip_rate)})\n` +
      variantLine('full', full) +
      variantLine('flexidepth', flexidepth) +
      `decode speed ratio ${f(decodeSpeedRatio)} (median of rounds, ${f(doc.decode_speed_ratio_spread.min)}-${f(doc.decode_speed_ratio_spread.max)}; of the medians ${f(doc.decode_speed_ratio_of_medians)}), ideal ${f(idealSpeedRatio)}, efficiency ${f(doc.efficiency)}\n` +
      (full.bandwidth_fraction === null
        ? ''
        : `weights read per step: ${(['full', 'flexidepth'] as const)
            .map((v) => {
              const s = doc[v];
              return `${v} ${bytes(s.weight_bytes_read_per_step!)} at ${gigabytes(s.weight_read_bytes_per_s!)}/s (${f(100 * s.bandwidth_fraction!, 0)}%)`;
            })
            .join(', ')} of the ${gigabytes(bandwidth.bytes_per_s)}/s one thread reads here\n`) +
      `sessions: ${layout === 'abba' ? 'four, ABBA' : 'one per variant, alternating (four do not fit in the free memory)'}; peak RSS ${scale.peak_rss_bytes === null ? 'unknown' : bytes(scale.peak_rss_bytes)}\n` +
      `scale: checkpoint ${bytes(scale.checkpoint_bytes)} on disk, ${bytes(scale.weight_bytes)} of float32 weights, checked and hashed in ${f(scale.checkpoint_load_s, 2)} s; ` +
      `graphs built in ${(['full', 'flexidepth'] as const).map((v) => `${f(scale.graphs[v]?.build_s ?? 0, 2)} s (${v})`).join(', ')}; ` +
      `sessions opened ${scale.sessions.map((x) => `${x.variant} ${f(x.open_s, 2)} s +${bytes(x.rss_growth_bytes)}`).join(', ')}\n`,
  );
}

export const command = defineCommand({
  name: 'bench',
  description:
    'Benchmark decode speed of full vs flexidepth from one checkpoint: interleaved rounds on ABBA-created sessions, per-step medians, and the speed ratio against the ideal one from multiply-adds.',
  options: OPTIONS,
  action: bench,
});
