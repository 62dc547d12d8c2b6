// The comparator variants' graphs against the independent float64 forward (test/reference/flexidepth-f64.ts):
// `static` (removed layers gone), `random` (decisions fed in, skips through the adapter), and the
// hidden states Block Influence is computed from; and the seeded draws that feed `random`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosineSum, leastInfluential, measureBlockInfluence } from '../src/model/block-influence.ts';
import { loadCheckpoint, readWeights, type Checkpoint } from '../src/model/checkpoint.ts';
import type { Tensor } from '../src/model/safetensors.ts';
import { generate } from '../src/model/generate.ts';
import { RouteChooser, documentSeed } from '../src/model/routing.ts';
import { argmax } from '../src/model/sampling.ts';
import { DecoderSession, type StepResult } from '../src/model/session.ts';
import { referenceForward, relError } from './reference/flexidepth-f64.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-comparators-'));
const cacheDir = join(work, 'cache');
let ckpt: Checkpoint;
let weights: Map<string, Tensor>;

beforeAll(() => {
  writeRandomCheckpoint(join(work, 'ddllama'), { hiddenSize: 64, numLayers: 5, routingLayers: [2, 3, 4], routerHeadScale: 4, seed: 11 });
  ckpt = loadCheckpoint(join(work, 'ddllama'));
  weights = readWeights(ckpt);
});

/** Greedy decoding through step() with the cache: every position's logits, and the ids. */
async function decode(
  session: DecoderSession,
  prompt: number[],
  steps: number,
  feed: (S: number, from: number) => boolean[] | undefined,
): Promise<{ ids: number[]; logits: Float32Array[] }> {
  const V = ckpt.config.vocabSize;
  const ids = [...prompt];
  const logits: Float32Array[] = [];
  let out: StepResult = await session.step(prompt, session.emptyCache(), 0.5, feed(prompt.length, 0));
  for (let t = 0; t < prompt.length; t++) logits.push(out.logits.slice(t * V, (t + 1) * V));
  for (let k = 0; k < steps; k++) {
    const next = argmax(out.logits.subarray(out.logits.length - V));
    ids.push(next);
    out = await session.step([next], out.cache, 0.5, feed(1, ids.length - 1));
    logits.push(out.logits.slice());
  }
  return { ids, logits };
}

describe('static: the removed layers are gone', () => {
  it('agrees with the float64 forward that leaves the same layers out, over prefill and 12 decode steps', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'static', removedLayers: [2, 4], cacheDir });
    const { ids, logits } = await decode(session, [1, 17, 42, 5, 63, 8], 12, () => undefined);
    const ref = referenceForward(ckpt.config, weights, ids, { routed: false, removed: [2, 4] });
    const worst = Math.max(...ids.map((_, t) => relError(logits[t]!, ref.logits[t]!)));
    expect(worst).toBeLessThan(1e-4);
    // Not the full model: the layers really are left out.
    const full = referenceForward(ckpt.config, weights, ids, { routed: false });
    expect(relError(logits[ids.length - 1]!, full.logits[ids.length - 1]!)).toBeGreaterThan(1e-2);
    await session.release();
  });

  it('has no cache for the removed layers, and generate records their mask', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'static', removedLayers: [3], cacheDir });
    expect(Object.keys(session.emptyCache().tensors).sort()).toEqual([
      'past.0.key',
      'past.0.value',
      'past.1.key',
      'past.1.value',
      'past.2.key',
      'past.2.value',
      'past.4.key',
      'past.4.value',
    ]);
    const gen = await generate(session, [1, 5, 9], { maxNewTokens: 4, routing: { kind: 'fixed', keep: [true, false, true] } });
    for (const p of gen.positions) {
      expect(p.mask).toEqual([true, false, true]);
      expect(p.gates).toEqual([]);
      expect(p.layersUsed).toBe(4);
    }
    await session.release();
  });
});

describe('random: the decisions come from the input', () => {
  it('agrees with the float64 forward forced to the same decisions, with rows of one step on both paths', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'random', cacheDir });
    const R = 3;
    // A fixed pattern that mixes paths inside the prefill (gather/scatter) and gives decode steps all-full and all-skip layers.
    const decide = (t: number, r: number): boolean => (t * 7 + r * 3) % 5 < 2;
    const feed = (S: number, from: number): boolean[] => Array.from({ length: R * S }, (_, i) => decide(from + (i % S), Math.floor(i / S)));
    const { ids, logits } = await decode(session, [1, 17, 42, 5, 63, 8, 29, 71], 12, feed);
    const ref = referenceForward(ckpt.config, weights, ids, { routed: true, decide });
    const worst = Math.max(...ids.map((_, t) => relError(logits[t]!, ref.logits[t]!)));
    expect(worst).toBeLessThan(1e-4);
    // The forced decisions differ from what the gates would have chosen, so the input really steers.
    const gated = referenceForward(ckpt.config, weights, ids, { routed: true });
    const overridden = ids.flatMap((_, t) => [0, 1, 2].filter((r) => decide(t, r) !== gated.gates[t]![r]! > 0.5));
    expect(overridden.length).toBeGreaterThan(ids.length / 2);
    await session.release();
  });

  it('refuses a step without its decisions', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'random', cacheDir });
    await expect(session.step([1, 2], session.emptyCache())).rejects.toThrow('the random variant needs 6 routing decisions, got none');
    await session.release();
  });
});

describe('seeded draws', () => {
  const rates = { prompt: [0.1, 0.5, 0.9], producing: [0.3, 0.0, 1.0] };

  it("draw at the rates of each token's set", () => {
    const chooser = new RouteChooser({ kind: 'random', seed: 7, rates }, 3);
    const n = 20_000;
    for (const set of ['prompt', 'producing'] as const) {
      const drawn = chooser.draw(new Array(n).fill(set))!;
      rates[set].forEach((rate, r) => {
        const share = drawn.slice(r * n, (r + 1) * n).filter(Boolean).length / n;
        expect(Math.abs(share - rate), `${set} layer ${r}`).toBeLessThan(0.015);
      });
    }
    // A step mixing the sets draws each token from its own.
    const mixed = chooser.draw(['prompt', 'producing'])!;
    expect([mixed[1 * 2 + 1], mixed[2 * 2 + 1]]).toEqual([false, true]);
  });

  it('do not depend on how tokens are grouped into steps, and differ between documents', () => {
    const one = new RouteChooser({ kind: 'random', seed: documentSeed(0, 'doc-1'), rates }, 3);
    const whole = one.draw(['prompt', 'prompt', 'prompt', 'prompt'])!; // layer-major [3 x 4]
    const again = new RouteChooser({ kind: 'random', seed: documentSeed(0, 'doc-1'), rates }, 3);
    const split = [again.draw(['prompt'])!, again.draw(['prompt', 'prompt', 'prompt'])!];
    const token = (t: number, r: number): boolean => (t === 0 ? split[0]![r]! : split[1]![r * 3 + t - 1]!);
    for (let t = 0; t < 4; t++) for (let r = 0; r < 3; r++) expect(token(t, r)).toBe(whole[r * 4 + t]);
    expect(documentSeed(0, 'doc-1')).not.toBe(documentSeed(0, 'doc-2'));
    expect(documentSeed(0, 'doc-1')).not.toBe(documentSeed(1, 'doc-1'));
  });
});

describe('Block Influence', () => {
  it('is 1 - mean cosine of each layer input and output, from the graph hidden states as from the float64 forward', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'full', hiddenStates: true, cacheDir });
    const windows = [
      [1, 17, 42, 5, 63],
      [1, 9, 9, 30, 2, 44, 7],
    ];
    const measured = await measureBlockInfluence(session, windows, [2, 3, 4]);
    const sums = [0, 0, 0];
    let tokens = 0;
    for (const ids of windows) {
      const ref = referenceForward(ckpt.config, weights, ids, { routed: false });
      [2, 3, 4].forEach((layer, j) => {
        for (let t = 0; t < ids.length; t++) {
          const a = ref.hidden[layer]![t]!;
          const b = ref.hidden[layer + 1]![t]!;
          let dot = 0;
          let na = 0;
          let nb = 0;
          for (let k = 0; k < a.length; k++) {
            dot += a[k]! * b[k]!;
            na += a[k]! ** 2;
            nb += b[k]! ** 2;
          }
          sums[j]! += dot / Math.sqrt(na * nb);
        }
      });
      tokens += ids.length;
    }
    measured.forEach((m, j) => {
      expect(m.layer).toBe([2, 3, 4][j]);
      expect(Math.abs(m.value - (1 - sums[j]! / tokens))).toBeLessThan(1e-5);
    });
    await session.release();
  });

  it('cosineSum sums row cosines; leastInfluential picks the k smallest, earlier layer first on ties', () => {
    expect(cosineSum(Float32Array.of(1, 0, 0, 2), Float32Array.of(1, 0, 0, -3), 2)).toBeCloseTo(0, 12);
    expect(cosineSum(Float32Array.of(3, 4), Float32Array.of(4, 3), 2)).toBeCloseTo(24 / 25, 12);
    const influence = [
      { layer: 6, value: 0.3 },
      { layer: 7, value: 0.1 },
      { layer: 8, value: 0.2 },
      { layer: 9, value: 0.1 },
    ];
    expect(leastInfluential(influence, 1)).toEqual([7]);
    expect(leastInfluential(influence, 3)).toEqual([7, 8, 9]);
    expect(() => leastInfluential(influence, 5)).toThrow('cannot remove 5 of 4 layers');
  });
});
