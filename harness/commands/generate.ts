/**
 * `flexibench generate --model DIR [--variant flexidepth|full] (--prompt TEXT | --bos) ...`
 * Prints the text, or with --json one document with every position's depth (DESIGN.md).
 */
import { join } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { generate, outputText, promptContextProblem } from '../../src/model/generate.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { numberOption, parseOptions } from '../args.ts';
import { MODEL_OPTIONS, modelChoice, openSession, variantOption } from '../model-options.ts';
import { eosIds } from '../runner/plan.ts';

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions('generate', argv, {
    ...MODEL_OPTIONS,
    prompt: { type: 'string' },
    bos: { type: 'boolean', default: false },
    'max-new-tokens': { type: 'string' },
    threshold: { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  });
  if (o.prompt === undefined && !o.bos) throw new UserError('generate: give --prompt TEXT, --bos, or both');
  const m = modelChoice('generate', o);
  const variant = variantOption('generate', o.variant, m.ckpt);
  const maxNewTokens = numberOption('generate', o['max-new-tokens'], 'max-new-tokens', 128, { integer: true, min: 0 });
  const threshold = numberOption('generate', o.threshold, 'threshold', 0.5, { min: 0, max: 1 });
  const temperature = numberOption('generate', o.temperature, 'temperature', 0, { min: 0 });
  const topP = numberOption('generate', o['top-p'], 'top-p', 1, { min: 0, max: 1 });
  const seed = numberOption('generate', o.seed, 'seed', 0, { integer: true, min: 0 });

  const tok = TextTokenizer.load(m.ckpt.dir);
  // --bos alone starts from BOS; with --prompt, BOS is added when given or when the tokenizer adds it.
  const promptIds = tok.encode(o.prompt ?? '', o.bos || (o.prompt !== undefined && tok.addBos));
  if (promptIds.length === 0) throw new UserError('generate: the prompt encodes to no tokens; add --bos');
  // Before opening the session, which may build the graph first.
  const tooLong = promptContextProblem(promptIds.length, maxNewTokens, m.ckpt.config.maxPositionEmbeddings);
  if (tooLong !== null) throw new UserError(`generate: --prompt: ${tooLong} (max_position_embeddings in ${join(m.ckpt.dir, 'config.json')}); shorten the prompt`);
  const eos = eosIds(m.ckpt, tok);
  const session = await openSession(m, variant);
  const gen = await generate(session, promptIds, {
    maxNewTokens,
    threshold,
    eosIds: eos,
    stopStrings: o.stop ?? [],
    decode: (ids) => tok.decode(ids),
    ...(temperature > 0 ? { sampling: { temperature, topP, seed } } : {}),
  });
  await session.release();
  const text = outputText(gen, (ids) => tok.decode(ids));
  if (!o.json) {
    process.stdout.write(text + '\n');
    return;
  }
  const allIds = gen.positions.map((p) => p.id);
  const pieces = tok.pieces(allIds);
  const doc = {
    model: m.ckpt.dir,
    variant,
    threshold,
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
      prefill_tokens_per_s: gen.timing.prefillTokens / (gen.timing.prefillMs / 1000),
      decode_tokens_per_s: gen.timing.decodeTokens / (gen.timing.decodeMs / 1000),
    },
  };
  process.stdout.write(JSON.stringify(doc) + '\n');
}
