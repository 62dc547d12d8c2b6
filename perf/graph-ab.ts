/**
 * Decode speed of two graph files of one checkpoint and variant, in one process on one thread:
 * how a change to the graph builder is measured. Typically A is built by the old commit (a git
 * worktree) and B by the new, each with perf/open-rss.ts, which prints the path. After one warm-up
 * run each, --rounds rounds alternate A, B then B, A; every run decodes --tokens tokens after a
 * 16-token prompt. Prints each graph's median ms per decode step and the median of the rounds'
 * A ÷ B ratios with their min and max (above 1: B is faster). Giving the same file twice shows
 * the noise of the method.
 *
 *   node --import tsx perf/graph-ab.ts --model DIR --a GRAPH.onnx --b GRAPH.onnx [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--threshold 0.5] [--rounds 8] [--tokens 32]
 *
 * Used by docs/performance.md, "How to measure" (a change). --precision must be the graphs' own:
 * it sets the KV cache's element type.
 */
import { DEFAULT_THRESHOLD } from '../src/model/variants.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { generate } from '../src/model/generate.ts';
import { DecoderSession } from '../src/model/session.ts';
import { median } from '../src/median.ts';
import { fixedPrompt, GRAPH_OPTIONS, graphSpec, numeric, options, text } from './common.ts';

const USAGE = `
usage: node --import tsx perf/graph-ab.ts --model DIR --a GRAPH.onnx --b GRAPH.onnx [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--threshold 0.5] [--rounds 8] [--tokens 32]
`;
const o = options(USAGE, {
  model: { type: 'string', required: true },
  a: { type: 'string', required: true },
  b: { type: 'string', required: true },
  ...GRAPH_OPTIONS,
  threshold: { type: 'string', default: String(DEFAULT_THRESHOLD) },
  rounds: { type: 'string', default: '8' },
  tokens: { type: 'string', default: '32' },
});

const ckpt = loadCheckpoint(text(o.model));
const spec = graphSpec(text(o.variant), text(o.precision), numeric('block-size', o['block-size']));
const tokens = numeric('tokens', o.tokens);
const threshold = numeric('threshold', o.threshold);
const a = await DecoderSession.open(text(o.a), ckpt.config, { ...spec, intraOpThreads: 1 });
const b = await DecoderSession.open(text(o.b), ckpt.config, { ...spec, intraOpThreads: 1 });
const prompt = fixedPrompt(ckpt.config);
const msPerStep = async (s: DecoderSession): Promise<number> => (await generate(s, prompt, { maxNewTokens: tokens, threshold })).timing.decodeMs / tokens;

await msPerStep(a);
await msPerStep(b);
const A: number[] = [];
const B: number[] = [];
for (let r = 0; r < numeric('rounds', o.rounds); r++) {
  if (r % 2 === 0) {
    A.push(await msPerStep(a));
    B.push(await msPerStep(b));
  } else {
    B.push(await msPerStep(b));
    A.push(await msPerStep(a));
  }
}
await a.release();
await b.release();
const ratios = A.map((x, r) => x / B[r]!);
console.log(
  `A ${median(A).toFixed(3)} ms per step, B ${median(B).toFixed(3)} ms per step; A/B per round: median ${median(ratios).toFixed(3)} ` +
    `(${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}) over ${ratios.length} rounds`,
);
