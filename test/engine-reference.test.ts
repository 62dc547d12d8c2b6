// The ONNX engine against the independent float64 forward (test/reference/flexidepth-f64.ts) on a
// FlexiDepth checkpoint with random weights: gates, decisions and logits over prefill and 20 decode
// steps, for both variants; and KV-cache decoding against recomputing the whole sequence.
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readWeights, type Checkpoint } from '../src/model/checkpoint.ts';
import { generate } from '../src/model/generate.ts';
import { buildOrReuseGraph } from '../src/model/graph-cache.ts';
import { argmax } from '../src/model/sampling.ts';
import { DecoderSession } from '../src/model/session.ts';
import { referenceForward, relError } from './reference/flexidepth-f64.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-engine-'));
const cacheDir = join(work, 'cache');
let ckpt: Checkpoint;
let plain: Checkpoint;

beforeAll(() => {
  writeRandomCheckpoint(join(work, 'ddllama'), { hiddenSize: 64, numLayers: 4, routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
  ckpt = loadCheckpoint(join(work, 'ddllama'));
  // A plain Llama with tied embeddings and as many key heads as query heads.
  writeRandomCheckpoint(join(work, 'llama'), { hiddenSize: 64, numLayers: 3, numHeads: 4, numKvHeads: 4, tie: true, seed: 3 });
  plain = loadCheckpoint(join(work, 'llama'));
});

describe.each([
  ['flexidepth', 'ddllama'],
  ['full', 'ddllama'],
  ['full', 'tied llama'],
] as const)('variant %s of the %s checkpoint against the float64 reference', (variant, which) => {
  it('agrees on gates, decisions and logits over prefill and 20 decode steps', async () => {
    const model = which === 'ddllama' ? ckpt : plain;
    const session = await DecoderSession.create(model, { variant, cacheDir });
    const V = model.config.vocabSize;
    const R = session.routedLayers.length;
    const prompt = [1, 17, 42, 5, 63, 8, 29, 71];
    const ids = [...prompt];
    let cache = session.emptyCache();
    let step = await session.step(prompt, cache);
    const onnxGates: number[][] = []; // [position][r]
    const onnxLogits: Float32Array[] = [];
    const collect = (s: typeof step, n: number): void => {
      for (let t = 0; t < n; t++) {
        onnxGates.push(Array.from({ length: R }, (_, r) => s.gates[r * n + t]!));
        onnxLogits.push(s.logits.slice(t * V, (t + 1) * V));
      }
    };
    collect(step, prompt.length);
    for (let k = 0; k < 20; k++) {
      const next = argmax(step.logits.subarray(step.logits.length - V));
      ids.push(next);
      cache = step.cache;
      step = await session.step([next], cache);
      collect(step, 1);
    }
    const ref = referenceForward(model.config, readWeights(model), ids, { routed: variant === 'flexidepth' });

    let decisions = 0;
    let skipped = 0;
    let worstGate = 0;
    let worstLogits = 0;
    for (let t = 0; t < ids.length; t++) {
      for (let r = 0; r < R; r++) {
        const g = onnxGates[t]![r]!;
        const gr = ref.gates[t]![r]!;
        worstGate = Math.max(worstGate, Math.abs(g - gr));
        if (Math.abs(gr - 0.5) > 1e-4) {
          expect(g > 0.5, `decision at position ${t}, routed layer ${r}`).toBe(gr > 0.5);
          decisions++;
          if (!(gr > 0.5)) skipped++;
        }
      }
      worstLogits = Math.max(worstLogits, relError(onnxLogits[t]!, ref.logits[t]!));
    }
    const measured = JSON.stringify({ variant, which, positions: ids.length, decisions, skipped, worstGate, worstLogits });
    expect(worstGate, measured).toBeLessThan(1e-5);
    expect(worstLogits, measured).toBeLessThan(1e-4);
    if (variant === 'flexidepth') {
      expect(decisions).toBe(ids.length * R);
      // The fixture is meant to exercise both paths: roughly half the decisions skip.
      expect(skipped / decisions).toBeGreaterThan(0.25);
      expect(skipped / decisions).toBeLessThan(0.75);
    }
    await session.release();
  });
});

describe('KV cache', () => {
  it('gives the same tokens and gates as recomputing the full sequence each step', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'flexidepth', cacheDir });
    const V = ckpt.config.vocabSize;
    const R = session.routedLayers.length;
    const prompt = [1, 33, 9, 50];
    const cached = await generate(session, prompt, { maxNewTokens: 24 });

    const ids = [...prompt];
    for (let k = 0; k < 24; k++) {
      const out = await session.step(ids, session.emptyCache());
      const n = ids.length;
      if (k === 23) {
        // compare every position's gates of the last recomputation with the cached run
        for (let t = 0; t < n; t++) {
          for (let r = 0; r < R; r++) expect(Math.abs(out.gates[r * n + t]! - cached.positions[t]!.gates[r]!)).toBeLessThan(1e-5);
        }
      }
      ids.push(argmax(out.logits.subarray((n - 1) * V, n * V)));
    }
    expect(cached.generatedIds).toEqual(ids.slice(prompt.length));
    await session.release();
  });
});

describe('ONNX external data', () => {
  it('a graph written with its weights in a side file gives the same logits', async () => {
    const inline = await DecoderSession.create(ckpt, { variant: 'flexidepth', cacheDir: join(work, 'inline') });
    const path = buildOrReuseGraph(ckpt, { variant: 'flexidepth' }, join(work, 'external'), 0);
    expect(existsSync(`${path}.data`)).toBe(true);
    // The weights moved out: the model file is the inline one less (nearly all of) the side file.
    const inlineBytes = statSync(buildOrReuseGraph(ckpt, { variant: 'flexidepth' }, join(work, 'inline'))).size;
    expect(statSync(path).size).toBeLessThan(inlineBytes - 0.95 * statSync(`${path}.data`).size);
    const external = await DecoderSession.open(path, ckpt.config, { variant: 'flexidepth' });
    const a = await inline.step([1, 5, 9], inline.emptyCache());
    const b = await external.step([1, 5, 9], external.emptyCache());
    expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
    expect(Array.from(b.gates)).toEqual(Array.from(a.gates));
  });
});
