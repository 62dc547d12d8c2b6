/**
 * One session of one variant in a fresh process, as a user's process holds it: checks the
 * checkpoint, builds the graph (or finds it in --cache), opens one session on one thread, decodes
 * --tokens tokens after a 16-token prompt. After each stage it prints the resident memory (VmRSS,
 * with RssAnon and RssFile) and the peak (VmHWM); at the end peak and steady (VmRSS after decoding)
 * as multiples of the graph's bytes. Run it once with an empty cache for build and session
 * together, and again for the session alone.
 *
 *   node --import tsx perf/one-session.ts --model DIR --cache DIR [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--tokens 64] [--threshold 0.5]
 *
 * Used by docs/performance.md, "Memory: build and sessions" and "Llama-3-8B shape at int4"
 * (with /usr/bin/time -v for the wall time and maximum resident size).
 */
import { DEFAULT_THRESHOLD } from '../src/model/variants.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { generate } from '../src/model/generate.ts';
import { buildOrReuseGraph, graphFileBytes } from '../src/model/graph-cache.ts';
import { DecoderSession } from '../src/model/session.ts';
import { describeMemory, fixedPrompt, GRAPH_OPTIONS, graphSpec, memory, numeric, options, secondsSince, text } from './common.ts';

const USAGE = `
usage: node --import tsx perf/one-session.ts --model DIR --cache DIR [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--tokens 64] [--threshold 0.5]
`;
const o = options(USAGE, {
  model: { type: 'string', required: true },
  cache: { type: 'string', required: true },
  ...GRAPH_OPTIONS,
  tokens: { type: 'string', default: '64' },
  threshold: { type: 'string', default: String(DEFAULT_THRESHOLD) },
});

const tokens = numeric('tokens', o.tokens);
const say = (stage: string): void => console.log(`${stage}: ${describeMemory(memory())}`);

let t = performance.now();
const ckpt = loadCheckpoint(text(o.model));
say(`checkpoint checked (${secondsSince(t).toFixed(1)} s)`);
const spec = graphSpec(text(o.variant), text(o.precision), numeric('block-size', o['block-size']));
t = performance.now();
const path = buildOrReuseGraph(ckpt, spec, text(o.cache));
const bytes = graphFileBytes(path);
say(`graph ready (${secondsSince(t).toFixed(1)} s; ${(bytes / 1e9).toFixed(3)} GB on disk)`);
t = performance.now();
const session = await DecoderSession.open(path, ckpt.config, { ...spec, intraOpThreads: 1 });
say(`session opened (${secondsSince(t).toFixed(1)} s)`);
const gen = await generate(session, fixedPrompt(ckpt.config), { maxNewTokens: tokens, threshold: numeric('threshold', o.threshold) });
const m = memory();
say(`${tokens} tokens decoded (${(gen.timing.decodeMs / tokens).toFixed(2)} ms per step)`);
console.log(`peak / steady: ${(m.peak / bytes).toFixed(2)}x / ${(m.rss / bytes).toFixed(2)}x the graph's bytes`);
await session.release();
