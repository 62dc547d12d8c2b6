/**
 * `flexibench generate --model DIR (--prompt TEXT | --bos)`
 * Prints the text, or with --json one document with every position's depth (docs/design.md).
 */
import { join } from 'node:path';
import { escapeControlCharsInJson, escapeControlCharsKeepingLines } from '../../src/control-chars.ts';
import { UserError } from '../../src/errors.ts';
import { generate, promptContextProblem, tokensPerSecond } from '../../src/model/generate.ts';
import { DEFAULT_THRESHOLD } from '../../src/model/variants.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { defineCommand, flag, integer, real, text, texts, type OptionValues } from '../args.ts';
import { MODEL_OPTIONS, modelChoice, openSession, variantOf, variantOptionFor, withPrecision } from '../model-options.ts';
import { POSITIONS, SEED, TEMPERATURE } from '../option-ranges.ts';
import { eosIds } from '../runner/plan.ts';

const OPTIONS = {
  ...MODEL_OPTIONS,
  variant: variantOptionFor('the graph to run'),
  prompt: text('TEXT', 'the prompt, encoded as the tokenizer does (with BOS when it adds one)'),
  bos: flag('start from BOS; alone, generate from BOS only'),
  maxNewTokens: integer('N', 'tokens to generate at most', { min: 0, ...POSITIONS, default: 128 }),
  threshold: real('T', 'router threshold: a layer runs a token when its gate is above T', { min: 0, max: 1, default: DEFAULT_THRESHOLD }),
  temperature: real('T', 'sampling temperature; 0 is greedy', { ...TEMPERATURE, default: 0 }),
  topP: real('P', 'nucleus sampling mass, with --temperature', { min: 0, max: 1, default: 1 }),
  seed: integer('S', 'sampling seed', { ...SEED, default: 0 }),
  stop: texts('TEXT', 'end before this text (repeatable)'),
  json: flag("print one JSON document with every position's token, depth, mask and gates, and the timing"),
};

async function generateCommand(o: OptionValues<typeof OPTIONS>): Promise<void> {
  if (o.prompt === undefined && !o.bos) throw new UserError('generate: give --prompt TEXT, --bos, or both');
  const m = modelChoice(o);
  const variant = variantOf(o.variant, m.ckpt);
  const { maxNewTokens, threshold, temperature, topP, seed } = o;

  const tok = TextTokenizer.load(m.ckpt.dir).requireModelVocab(m.ckpt.config.vocabSize);
  // --bos alone starts from BOS; with --prompt, BOS is added when given or when the tokenizer adds it.
  const promptIds = tok.encode(o.prompt ?? '', o.bos || (o.prompt !== undefined && tok.addBos));
  if (promptIds.length === 0) throw new UserError('generate: the prompt encodes to no tokens; add --bos');
  // Before opening the session, which may build the graph first.
  const tooLong = promptContextProblem(promptIds.length, maxNewTokens, m.ckpt.config.maxPositionEmbeddings);
  if (tooLong !== null)
    throw new UserError(`generate: --prompt: ${tooLong} (max_position_embeddings in ${join(m.ckpt.dir, 'config.json')}); shorten the prompt`);
  const eos = eosIds(m.ckpt, tok);
  const session = await openSession(m, variant);
  const gen = await generate(session, promptIds, {
    maxNewTokens,
    threshold,
    eosIds: eos,
    stopStrings: o.stop,
    decode: (context, ids) => tok.continuationText(context, ids),
    ...(temperature > 0 ? { sampling: { temperature, topP, seed } } : {}),
  });
  await session.release();
  const text = tok.outputText(gen);
  if (!o.json) {
    // A model can write escape sequences; a terminal is shown them, a pipe gets the text as generated.
    process.stdout.write((process.stdout.isTTY ? escapeControlCharsKeepingLines(text) : text) + '\n');
    return;
  }
  const allIds = gen.positions.map((p) => p.id);
  const pieces = tok.pieces(allIds);
  const doc = {
    model: m.ckpt.dir,
    variant,
    threshold,
    precision: m.precision,
    ...(withPrecision({ variant }, m.precision, m.blockSize).blockSize !== undefined ? { block_size: m.blockSize } : {}),
    text,
    stop_reason: gen.stopReason,
    layers_total: m.ckpt.config.numLayers,
    routing_layers: session.routedLayers,
    tokens: gen.positions.map((p, i) => ({ id: p.id, text: pieces[i], phase: p.phase, layers_used: p.layersUsed, mask: p.mask, gates: p.gates })),
    timing: {
      prefill_ms: gen.timing.prefillMs,
      decode_ms: gen.timing.decodeMs,
      prefill_tokens: gen.timing.prefillTokens,
      decode_tokens: gen.timing.decodeTokens,
      prefill_tokens_per_s: tokensPerSecond(gen.timing.prefillTokens, gen.timing.prefillMs),
      decode_tokens_per_s: tokensPerSecond(gen.timing.decodeTokens, gen.timing.decodeMs),
    },
  };
  process.stdout.write(escapeControlCharsInJson(JSON.stringify(doc)) + '\n');
}

export const command = defineCommand({
  name: 'generate',
  description: "Generate text from a checkpoint; with --json, every position's layer allocation (docs/design.md).",
  options: OPTIONS,
  action: generateCommand,
});
