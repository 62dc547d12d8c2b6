/**
 * `flexibench bench --model DIR`
 *
 * Decode speed of `full` vs `flexidepth` built from one checkpoint. Runs are interleaved A/B
 * (ABBA order, so neither variant always goes first) after a warm-up of each, and reported as
 * medians with the flexidepth/full ratio, all from one invocation.
 */
import { generate, producingDepths, tokensPerSecond, type Generation } from '../../src/model/generate.ts';
import { requireVariant, type Variant } from '../../src/model/graph-builder.ts';
import type { DecoderSession } from '../../src/model/session.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { defineCommand, flag, integer, real, text, type OptionValues } from '../args.ts';
import { MODEL_OPTIONS, modelChoice, openSession } from '../model-options.ts';

const OPTIONS = {
  ...MODEL_OPTIONS,
  prompt: text('TEXT', 'the prompt both variants continue', { default: 'Once upon a time' }),
  tokens: integer('N', 'tokens decoded per run', { min: 1, default: 128 }),
  rounds: integer('K', 'measured runs of each variant, after one warm-up each', { min: 1, default: 5 }),
  threshold: real('T', 'router threshold of flexidepth', { min: 0, max: 1, default: 0.5 }),
  json: flag('print the result as one JSON document'),
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface RunStats {
  decodeTokensPerS: number;
  prefillTokensPerS: number;
  layersUsedMean: number;
}

function stats(gen: Generation): RunStats {
  const depths = producingDepths(gen);
  return {
    // A decode always takes measurable time; NaN would show if it somehow did not.
    decodeTokensPerS: tokensPerSecond(gen.timing.decodeTokens, gen.timing.decodeMs) ?? Number.NaN,
    prefillTokensPerS: tokensPerSecond(gen.timing.prefillTokens, gen.timing.prefillMs) ?? Number.NaN,
    layersUsedMean: depths.reduce((s, d) => s + d, 0) / Math.max(1, depths.length),
  };
}

async function bench(o: OptionValues<typeof OPTIONS>): Promise<void> {
  const m = modelChoice(o);
  requireVariant(m.ckpt, 'flexidepth');
  const { tokens, rounds, threshold } = o;
  const tok = TextTokenizer.load(m.ckpt.dir);
  const promptIds = tok.encode(o.prompt, true);

  const sessions: Record<Variant, DecoderSession> = { full: await openSession(m, 'full'), flexidepth: await openSession(m, 'flexidepth') };
  // Greedy decoding without EOS: every run decodes exactly `tokens` tokens.
  const once = (v: Variant): Promise<Generation> => generate(sessions[v], promptIds, { maxNewTokens: tokens, threshold });
  await once('full');
  await once('flexidepth');
  const runs: Record<Variant, RunStats[]> = { full: [], flexidepth: [] };
  for (let r = 0; r < rounds; r++) {
    const order: Variant[] = r % 2 === 0 ? ['full', 'flexidepth'] : ['flexidepth', 'full'];
    for (const v of order) {
      runs[v].push(stats(await once(v)));
      process.stderr.write(`bench: round ${r + 1}/${rounds} ${v}: ${runs[v].at(-1)!.decodeTokensPerS.toFixed(1)} decode tokens/s\n`);
    }
  }
  for (const s of Object.values(sessions)) await s.release();

  const summary = (v: Variant) => ({
    decode_tokens_per_s: median(runs[v].map((s) => s.decodeTokensPerS)),
    prefill_tokens_per_s: median(runs[v].map((s) => s.prefillTokensPerS)),
    layers_used_mean: median(runs[v].map((s) => s.layersUsedMean)),
    runs: runs[v].map((s) => s.decodeTokensPerS),
  });
  const full = summary('full');
  const flexidepth = summary('flexidepth');
  const doc = {
    model: m.ckpt.dir,
    model_hash: m.ckpt.contentHash,
    execution_provider: m.executionProvider,
    intra_op_threads: m.intraOpThreads ?? 'default',
    prompt_tokens: promptIds.length,
    decode_tokens: tokens,
    rounds,
    threshold,
    layers_total: m.ckpt.config.numLayers,
    full,
    flexidepth,
    decode_speed_ratio: flexidepth.decode_tokens_per_s / full.decode_tokens_per_s,
  };
  if (o.json) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `decode tokens/s (median of ${rounds}, ${tokens} tokens each): full ${full.decode_tokens_per_s.toFixed(1)}, flexidepth ${flexidepth.decode_tokens_per_s.toFixed(1)}, ratio ${doc.decode_speed_ratio.toFixed(3)}\n` +
      `layers used per generated token: full ${full.layers_used_mean.toFixed(2)}, flexidepth ${flexidepth.layers_used_mean.toFixed(2)} of ${doc.layers_total}\n`,
  );
}

export const command = defineCommand({
  name: 'bench',
  description: 'Benchmark decode speed of full vs flexidepth from one checkpoint: interleaved A/B runs, medians and their ratio.',
  options: OPTIONS,
  action: bench,
});
