/**
 * `flexibench bench --model DIR [--tokens N] [--rounds K] [--prompt TEXT] [--json]`
 *
 * Decode speed of `full` vs `flexidepth` built from one checkpoint. Runs are interleaved A/B
 * (ABBA order, so neither variant always goes first) after a warm-up of each, and reported as
 * medians with the flexidepth/full ratio, all from one invocation.
 */
import { UserError } from '../../src/errors.ts';
import { generate, type Generation } from '../../src/model/generate.ts';
import type { Variant } from '../../src/model/graph-builder.ts';
import type { DecoderSession } from '../../src/model/session.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { numberOption, parseOptions } from '../args.ts';
import { MODEL_OPTIONS, modelChoice, openSession } from '../model-options.ts';

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
  // Depth per generated token is read at the producing position (FLEXIDEPTH.md): the pass at
  // position i-1 produced token i, so the last prompt position through the second-to-last generated one.
  const producing = gen.positions.slice(gen.promptIds.length - 1, -1);
  return {
    decodeTokensPerS: gen.timing.decodeTokens / (gen.timing.decodeMs / 1000),
    prefillTokensPerS: gen.timing.prefillTokens / (gen.timing.prefillMs / 1000),
    layersUsedMean: producing.reduce((s, p) => s + p.layersUsed, 0) / Math.max(1, producing.length),
  };
}

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions('bench', argv, {
    ...MODEL_OPTIONS,
    prompt: { type: 'string' },
    tokens: { type: 'string' },
    rounds: { type: 'string' },
    threshold: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (o.variant !== undefined) throw new UserError('bench: --variant does not apply; bench always compares full and flexidepth');
  const m = modelChoice('bench', o);
  if (m.ckpt.config.routingLayers.length === 0) throw new UserError(`bench: ${m.ckpt.dir} is not a FlexiDepth checkpoint (model_type ddllama with routing_layers)`);
  const tokens = numberOption('bench', o.tokens, 'tokens', 128, { integer: true, min: 1 });
  const rounds = numberOption('bench', o.rounds, 'rounds', 5, { integer: true, min: 1 });
  const threshold = numberOption('bench', o.threshold, 'threshold', 0.5, { min: 0, max: 1 });
  const tok = TextTokenizer.load(m.ckpt.dir);
  const promptIds = tok.encode(o.prompt ?? 'Once upon a time', true);

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
