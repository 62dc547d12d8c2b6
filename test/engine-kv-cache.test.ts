// The KV cache is a set of buffers that a step reads in place and appends the new rows to
// (DecoderSession.step). Decoding across the buffers' growth, and extending one cache twice (two
// continuations of one prompt), must give what a fresh prefill of the same tokens gives; so must a
// long prompt run in chunks (DecoderSession.prefill).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../src/model/checkpoint.ts';
import { DecoderSession } from '../src/model/session.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

let ckpt: Checkpoint;
let long: Checkpoint;
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fb-kv-'));
  writeRandomCheckpoint(join(work, 'ckpt'), { routingLayers: [2, 3], seed: 5 });
  ckpt = loadCheckpoint(join(work, 'ckpt'));
  writeRandomCheckpoint(join(work, 'long'), { routingLayers: [2, 3], seed: 6, maxPositionEmbeddings: 1024 });
  long = loadCheckpoint(join(work, 'long'));
});

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k]!)), 0);
const tokens = (n: number, seed: number): number[] => Array.from({ length: n }, (_, k) => 3 + ((k * 37 + seed * 11) % 90));

describe.each(['full', 'flexidepth'] as const)('variant %s', (variant) => {
  it('decodes across the cache buffers growing as a fresh prefill of the same tokens does', async () => {
    const session = await DecoderSession.create(ckpt, { variant, cacheDir: join(work, 'cache') });
    const V = ckpt.config.vocabSize;
    const ids = tokens(150, 1);
    let out = await session.step(ids.slice(0, 60), session.emptyCache());
    const capacities = new Set([out.cache.capacity]);
    for (let t = 60; t < ids.length; t++) {
      out = await session.step([ids[t]!], out.cache);
      capacities.add(out.cache.capacity);
      if (t % 30 === 0 || t === ids.length - 1) {
        const fresh = await session.step(ids.slice(0, t + 1), session.emptyCache());
        expect(maxDiff(out.logits, fresh.logits.subarray(t * V)), `logits at ${t}`).toBeLessThan(1e-4);
        expect(
          maxDiff(
            out.gates,
            Float32Array.from({ length: out.gates.length }, (_, r) => fresh.gates[r * (t + 1) + t]!),
          ),
        ).toBeLessThan(1e-5);
      }
    }
    expect(capacities.size, 'the buffers grew during the test').toBeGreaterThan(1);
    await session.release();
  });

  it('extending one cache twice keeps both continuations intact', async () => {
    const session = await DecoderSession.create(ckpt, { variant, cacheDir: join(work, 'cache') });
    const V = ckpt.config.vocabSize;
    const prompt = tokens(9, 2);
    const base = await session.step(prompt, session.emptyCache());
    const a1 = await session.step([5], base.cache);
    const b1 = await session.step([7], base.cache); // written over a1's rows, were the buffers shared
    const a2 = await session.step([11], a1.cache);
    const b2 = await session.step([13], b1.cache);
    const freshA = await session.step([...prompt, 5, 11], session.emptyCache());
    const freshB = await session.step([...prompt, 7, 13], session.emptyCache());
    expect(maxDiff(a2.logits, freshA.logits.subarray(10 * V))).toBeLessThan(1e-4);
    expect(maxDiff(b2.logits, freshB.logits.subarray(10 * V))).toBeLessThan(1e-4);
    await session.release();
  });
});

describe.each(['full', 'flexidepth', 'random'] as const)('a long prompt in chunks, variant %s', (variant) => {
  it('gives the last logits, every gate and the cache of one pass', async () => {
    const session = await DecoderSession.create(long, { variant, cacheDir: join(work, 'cache') });
    const V = long.config.vocabSize;
    const ids = tokens(700, 3);
    const R = session.routedLayers.length;
    const drawn = variant === 'random' ? Array.from({ length: R * ids.length }, (_, i) => (i * 7919) % 3 !== 0) : undefined;
    const whole = await session.step(ids, session.emptyCache(), 0.5, drawn);
    const steps = vi.spyOn(session, 'step');
    const chunked = await session.prefill(ids, 0.5, drawn);
    expect(steps.mock.calls.length, 'the prompt ran in several chunks').toBeGreaterThan(1);
    expect(chunked.logits.length, 'only the last token has logits').toBe(V);
    expect(maxDiff(chunked.logits, whole.logits.subarray(whole.logits.length - V))).toBeLessThan(1e-4);
    expect(chunked.gates.length).toBe(R * ids.length);
    expect(maxDiff(chunked.gates, whole.gates)).toBeLessThan(1e-5);
    // The same cache: a step from each continues alike.
    const [a, b] = [await session.step([5], chunked.cache, 0.5, drawn?.slice(0, R)), await session.step([5], whole.cache, 0.5, drawn?.slice(0, R))];
    expect(maxDiff(a.logits, b.logits)).toBeLessThan(1e-4);
    await session.release();
  });
});
