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
import { heldWeightBytes } from '../../src/model/held-weights.ts';
import { promptContextProblem } from '../../src/model/generate.ts';
import { isQuantized, requireVariant } from '../../src/model/graph-builder.ts';
import { DEFAULT_THRESHOLD, type Variant } from '../../src/model/variants.ts';
import { requireExecutionProvider } from '../../src/model/session.ts';
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
} from '../bench/budget.ts';
import { measureMemoryReadBandwidth } from '../../src/model/memory-bandwidth.ts';
import { calibrate, skipRate, type Calibration } from '../bench/calibrate.ts';
import { benchText, type BenchDocument } from '../bench/document.ts';
import { roundsResult, spread } from '../bench/result.ts';
import { decodeOnce, interleavedRounds } from '../bench/rounds.ts';
import { loadCheckpointTimed, openSessionsMeasured, peakRssBytes } from '../bench/scale.ts';
import { MODEL_OPTIONS } from '../model-options.ts';
import { BATCH, BENCH_POSITIONS, ROUNDS, SEED, THREADS } from '../option-ranges.ts';
import { withTempFolder } from '../temp-folder.ts';

const DEFAULT_PROMPT = 'Once upon a time';
const DEFAULT_SYNTHETIC_CONTEXT = 16;

/**
 * --synthetic's range: HIDDEN up to Llama-3-70B's 8192 and LAYERS up to 128 (Llama-3.1-405B has
 * 126), the shapes of the family. The writer holds each file in one buffer, which Node caps at
 * 4 GiB; at 8192 the largest file, a routed layer, is about 3 GB. Whether a shape fits this
 * machine's disk and memory is checked against the shape itself before anything is written
 * (harness/bench/budget.ts).
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
  const runs = await interleavedRounds(sessions, order, rounds, (s) => decodeOnce(s, prompts, tokens, threshold), process.stderr);
  scale.peak_rss_bytes = peakRssBytes();
  for (const s of sessions) await s.release();
  // After the sessions are gone: its buffers then neither count in what a session added nor raise
  // the peak, and it reads the memory the decode steps read from.
  const bandwidth = measureMemoryReadBandwidth();
  const result = roundsResult(runs, order, rounds, {
    config: cfg,
    adapterSize: ckpt.adapterSize,
    batch: o.batch,
    precision: o.precision,
    blockSize: o.blockSize,
    bandwidthBytesPerS: bandwidth.bytes_per_s,
  });
  const { full, flexidepth } = result;
  const doc: BenchDocument = {
    model: size === null ? ckpt.dir : null,
    synthetic:
      size === null
        ? null
        : {
            shape: size.shape === undefined ? null : (o.synthetic as string),
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
    skip_rate: skipRate(runs.filter((_, k) => order[k] === 'flexidepth').flatMap((rs) => rs.flatMap((r) => r.gens))),
    calibration,
    layers_total: cfg.numLayers,
    routing_layers: cfg.routingLayers,
    full,
    flexidepth,
    decode_speed_ratio: result.decode_speed_ratio,
    decode_speed_ratio_spread: spread(result.round_ratios),
    decode_speed_ratio_of_medians: full.decode_ms_per_step / flexidepth.decode_ms_per_step,
    ideal_speed_ratio: result.ideal_speed_ratio,
    efficiency: result.decode_speed_ratio / result.ideal_speed_ratio,
    memory_read_bandwidth: bandwidth,
    scale,
  };
  process.stdout.write(o.json ? JSON.stringify(doc, null, 2) + '\n' : benchText(doc, o.synthetic));
}

export const command = defineCommand({
  name: 'bench',
  description:
    'Benchmark decode speed of full vs flexidepth from one checkpoint: interleaved rounds on ABBA-created sessions, per-step medians, and the speed ratio against the ideal one from multiply-adds.',
  options: OPTIONS,
  action: bench,
});
