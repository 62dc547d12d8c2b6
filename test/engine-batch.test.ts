// Batched decoding (issue 15): a step over several sequences, each with its own cache length and
// its own routing, gives what each sequence gives alone; continuous batching gives the tokens,
// gates and decisions of generating one sequence at a time.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../src/model/checkpoint.ts';
import { generate, generateBatch, type Generation, type GenerateOptions } from '../src/model/generate.ts';
import type { Variant } from '../src/model/variants.ts';
import { argmax } from '../src/model/sampling.ts';
import type { KvCache } from '../src/model/kv-cache.ts';
import { DecoderSession } from '../src/model/session.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-batch-'));
const cacheDir = join(work, 'cache');
let ckpt: Checkpoint;

beforeAll(() => {
  writeRandomCheckpoint(join(work, 'ddllama'), { hiddenSize: 64, numLayers: 4, routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
  ckpt = loadCheckpoint(join(work, 'ddllama'));
});

const PROMPTS = [
  [1, 17, 42, 5],
  [1, 9],
  [1, 33, 9, 50, 2, 7, 61],
  [1, 3, 3, 3, 3, 3],
  [1, 60, 8],
  [1, 44, 12, 19, 27],
  [1, 2, 3, 4, 5, 6, 7, 8, 9],
];

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

describe('stepBatch', () => {
  it("gives each row the logits and gates of its sequence's own step, with rows on both paths of a routed layer", async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'flexidepth', cacheDir });
    const V = ckpt.config.vocabSize;
    const R = 2;
    const prompts = PROMPTS.slice(0, 4);
    const alone: KvCache[] = [];
    const batch = session.batchCache(4);
    const ids: number[] = [];
    for (const prompt of prompts) {
      const out = await session.step(prompt, session.emptyCache());
      alone.push(out.cache);
      batch.add(out.cache);
      ids.push(argmax(out.logits.subarray(out.logits.length - V)));
    }
    let mixedSteps = 0;
    for (let k = 0; k < 12; k++) {
      const together = await session.stepBatch(ids, batch);
      for (let b = 0; b < 4; b++) {
        const own = await session.step([ids[b]!], alone[b]!);
        alone[b] = own.cache;
        expect(maxAbs(together.logits.subarray(b * V, (b + 1) * V), own.logits), `step ${k} row ${b} logits`).toBeLessThan(1e-4);
        for (let r = 0; r < R; r++) expect(Math.abs(together.gates[r * 4 + b]! - own.gates[r]!), `step ${k} row ${b} gate ${r}`).toBeLessThan(1e-4);
        ids[b] = argmax(own.logits);
      }
      for (let r = 0; r < R; r++) {
        const paths = new Set(Array.from({ length: 4 }, (_, b) => together.gates[r * 4 + b]! > 0.5));
        if (paths.size === 2) mixedSteps++;
      }
    }
    // The gather/scatter path over sequences ran, or this proved nothing about it.
    expect(mixedSteps).toBeGreaterThan(3);
    expect(batch.lengths).toEqual(prompts.map((p) => p.length + 12));
    await session.release();
  });
});

describe('BatchCache', () => {
  it('shrinks when a long sequence leaves, keeping the other rows: their next step is their own step', async () => {
    const session = await DecoderSession.create(ckpt, { variant: 'full', cacheDir });
    const V = ckpt.config.vocabSize;
    const long = Array.from({ length: 200 }, (_, k) => 3 + ((k * 7) % 90));
    const batch = session.batchCache(3);
    const alone: KvCache[] = [];
    for (const prompt of [PROMPTS[0]!, long, PROMPTS[2]!]) {
      const out = await session.step(prompt, session.emptyCache());
      alone.push(out.cache);
      batch.add(out.cache);
    }
    const grown = batch.capacity;
    expect(grown).toBeGreaterThan(200);
    batch.remove(1); // the last row moves into row 1
    alone.splice(1, 1);
    const together = await session.stepBatch([5, 7], batch);
    expect(batch.capacity, 'the buffers shrank to what the rows need').toBeLessThan(grown / 2);
    for (const [b, id] of [5, 7].entries()) {
      const own = await session.step([id], alone[b]!);
      expect(maxAbs(together.logits.subarray(b * V, (b + 1) * V), own.logits), `row ${b}`).toBeLessThan(1e-4);
    }
    await session.release();
  });
});

describe.each<Variant>(['flexidepth', 'full', 'random', 'static'])('generateBatch, %s', (variant) => {
  it('gives the tokens, gates and decisions of one sequence at a time, refilling rows as sequences finish', async () => {
    const session = await DecoderSession.create(ckpt, { variant, ...(variant === 'static' ? { removedLayers: [3] } : {}), cacheDir });
    const routing: GenerateOptions['routing'] =
      variant === 'random'
        ? { kind: 'random', seed: 5, rates: { prompt: [0.3, 0.6], producing: [0.5, 0.5] } }
        : variant === 'static'
          ? { kind: 'fixed', keep: [true, false] }
          : undefined;
    // Different lengths, so rows finish at different steps and waiting prompts join mid-batch.
    const opts = (i: number): GenerateOptions => ({
      maxNewTokens: 6 + 3 * i,
      eosIds: [0],
      ...(routing ? { routing: routing.kind === 'random' ? { ...routing, seed: i } : routing } : {}),
    });
    const one: Generation[] = [];
    for (const [i, prompt] of PROMPTS.entries()) one.push(await generate(session, prompt, opts(i)));
    const batched = new Map<number, Generation>();
    const queue = PROMPTS.map((promptIds, i) => ({ tag: i, promptIds, opts: opts(i) }));
    await generateBatch(
      session,
      () => queue.shift(),
      3,
      (tag, result) => {
        if (result instanceof Error) throw result;
        batched.set(tag, result);
      },
    );
    expect([...batched.keys()].sort()).toEqual(PROMPTS.map((_, i) => i));
    for (const [i, expected] of one.entries()) {
      const got = batched.get(i)!;
      expect(got.generatedIds, `prompt ${i}`).toEqual(expected.generatedIds);
      expect(got.stopReason).toBe(expected.stopReason);
      expect(got.positions.map((p) => p.mask)).toEqual(expected.positions.map((p) => p.mask));
      expect(got.positions.map((p) => p.layersUsed)).toEqual(expected.positions.map((p) => p.layersUsed));
      const gates = (g: Generation): number[] => g.positions.flatMap((p) => p.gates);
      expect(maxAbs(gates(got), gates(expected))).toBeLessThan(1e-4);
      expect(got.timing.decodeTokens).toBe(expected.timing.decodeTokens);
    }
    await session.release();
  });
});

it('generateBatch reports a request that cannot run and goes on with the others', async () => {
  const session = await DecoderSession.create(ckpt, { variant: 'full', cacheDir });
  const tooLong = Array.from({ length: ckpt.config.maxPositionEmbeddings + 1 }, () => 1);
  const queue = [PROMPTS[0]!, tooLong, PROMPTS[1]!].map((promptIds, tag) => ({ tag, promptIds, opts: { maxNewTokens: 4 } }));
  const results = new Map<number, Generation | Error>();
  await generateBatch(
    session,
    () => queue.shift(),
    2,
    (tag, r) => results.set(tag, r),
  );
  expect((results.get(1) as Error).message).toMatch(/more than the model's \d+ positions/);
  expect((results.get(0) as Generation).generatedIds).toHaveLength(4);
  expect((results.get(2) as Generation).generatedIds).toHaveLength(4);
  await session.release();
});
