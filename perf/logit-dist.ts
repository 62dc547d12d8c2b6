/**
 * How far each lower precision's graphs are from fp32's, on one prompt: for fp16, int8, int4 and
 * int4 at blocks 64 and 128, the largest logit difference over the largest fp32 logit (full and
 * flexidepth), the same for the router gates, and how many routing decisions (gate > 0.5) equal
 * fp32's. One prefill of the 10-token prompt test/precision.test.ts uses, which bounds the same
 * distances; graphs are built into a temporary cache and removed.
 *
 *   node --import tsx perf/logit-dist.ts [--model models/flexidepth-ref]
 *
 * Used by docs/performance.md, "Precisions: fidelity".
 */
import { DEFAULT_THRESHOLD } from '../src/model/variants.ts';
import { relativeDistance } from '../src/model/relative-distance.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import type { WeightPrecision } from '../src/model/graph-builder.ts';
import { DecoderSession } from '../src/model/session.ts';
import { options, text } from './common.ts';

const o = options('usage: node --import tsx perf/logit-dist.ts [--model models/flexidepth-ref]', {
  model: { type: 'string', default: 'models/flexidepth-ref' },
});

/** test/precision.test.ts's prompt. */
const PROMPT = [0, 5, 17, 42, 99, 300, 7, 1000, 23, 64];
const CASES: { precision: WeightPrecision; blockSize?: number }[] = [
  { precision: 'fp16' },
  { precision: 'int8' },
  { precision: 'int4' },
  { precision: 'int4', blockSize: 64 },
  { precision: 'int4', blockSize: 128 },
];

const ckpt = loadCheckpoint(text(o.model));
const cacheDir = mkdtempSync(join(tmpdir(), 'flexibench-logit-dist-'));
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
try {
  const prefill = async (
    variant: 'full' | 'flexidepth',
    precision: WeightPrecision,
    blockSize?: number,
  ): Promise<{ logits: Float32Array; gates: Float32Array }> => {
    const s = await DecoderSession.create(ckpt, { variant, precision, ...(blockSize !== undefined ? { blockSize } : {}), cacheDir, intraOpThreads: 1 });
    const r = await s.step(PROMPT, s.emptyCache());
    await s.release();
    return { logits: r.logits, gates: r.gates };
  };
  const fp32 = { full: await prefill('full', 'fp32'), flexidepth: await prefill('flexidepth', 'fp32') };
  for (const { precision, blockSize } of CASES) {
    const full = await prefill('full', precision, blockSize);
    const flexi = await prefill('flexidepth', precision, blockSize);
    const same = flexi.gates.reduce((n, g, i) => n + (g > DEFAULT_THRESHOLD === fp32.flexidepth.gates[i]! > DEFAULT_THRESHOLD ? 1 : 0), 0);
    console.log(
      `${precision}${blockSize !== undefined ? `/${blockSize}` : ''}: logits full ${pct(relativeDistance(full.logits, fp32.full.logits))}, ` +
        `flexidepth ${pct(relativeDistance(flexi.logits, fp32.flexidepth.logits))}; gates ${pct(relativeDistance(flexi.gates, fp32.flexidepth.gates))}; ` +
        `routing decisions equal to fp32's ${same} of ${flexi.gates.length}`,
    );
  }
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
