// Weight bytes per decode step (src/model/weight-traffic.ts) against a count made from the
// checkpoint's own tensor list (expectedTensors), and the memory read-bandwidth probe.
import { describe, expect, it } from 'vitest';
import { expectedTensors } from '../src/model/checkpoint.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { measureMemoryReadBandwidth } from '../src/model/memory-bandwidth.ts';
import { decodeStepWeightBytes } from '../src/model/weight-traffic.ts';

// d 64, 4 query heads and 2 key heads of dim 16, FFN 64 -> 192 -> 64, vocabulary 100, layers 2 and 3 routed.
const cfg: ModelConfig = {
  modelType: 'ddllama',
  hiddenSize: 64,
  intermediateSize: 192,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  vocabSize: 100,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 128,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenIds: [2],
  routingLayers: [2, 3],
};
const ADAPTER = 12;

// Which of a layer's tensors a token reads, by the name after `model.layers.{i}.`.
const EVERY_TOKEN = ['input_layernorm', 'self_attn.k_proj', 'self_attn.v_proj', 'post_attention_layernorm'];
const ROUTER = ['router.router_enc', 'router.router_norm'];
const FULL_PATH = ['self_attn.q_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];
const SKIP_PATH = ['router_proj.gate_proj', 'router_proj.up_proj', 'router_proj.down_proj'];

/**
 * Weights read by one step, summed over the checkpoint's tensors. `fullPath` as for
 * decodeStepWeightBytes: null for the full variant, which has no router and runs every layer plain.
 */
function countFromCheckpoint(fullPath: boolean[] | null, adapterSize: number): number {
  const tensors = expectedTensors(cfg, adapterSize);
  const shape = (name: string): number[] => {
    const s = tensors.get(name);
    if (s === undefined) throw new Error(`no tensor ${name} in the checkpoint`);
    return s;
  };
  const elements = (name: string): number => shape(name).reduce((n, k) => n * k, 1);
  let total = shape('model.embed_tokens.weight')[1]! + elements('model.norm.weight') + elements('lm_head.weight');
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const routed = fullPath !== null && cfg.routingLayers.includes(i);
    const full = routed ? fullPath[cfg.routingLayers.indexOf(i)]! : true;
    const read = [...EVERY_TOKEN, ...(routed ? ROUTER : []), ...(full ? FULL_PATH : SKIP_PATH)];
    for (const part of read) total += elements(`${p}.${part}.weight`);
    if (routed) {
      // router_head · router_dec ([1, d] · [d, r]) is one [r, 1] vector in the graph.
      const [d, r] = shape(`${p}.router.router_dec.weight`);
      expect(shape(`${p}.router.router_head.weight`)).toEqual([1, d]);
      total += r!;
    }
  }
  return total;
}

describe('decode-step weight bytes', () => {
  it('full variant: every layer plain, one embedding row, final norm, LM head', () => {
    expect(decodeStepWeightBytes(cfg, null, ADAPTER)).toBe(4 * countFromCheckpoint(null, ADAPTER));
    // By hand: a layer is norms 2 x 64 + q, o 2 x 64 x 64 + k, v 2 x 32 x 64 + MLP 3 x 192 x 64 = 49280
    // weights; four of them, plus embedding row 64, final norm 64, LM head 64 x 100.
    expect(decodeStepWeightBytes(cfg, null, ADAPTER)).toBe(4 * (4 * 49280 + 64 + 64 + 6400));
  });

  it('flexidepth: every routed layer on the full path, on the skip path, and mixed', () => {
    for (const fullPath of [
      [true, true],
      [false, false],
      [true, false],
      [false, true],
    ]) {
      expect(decodeStepWeightBytes(cfg, fullPath, ADAPTER), `fullPath ${fullPath}`).toBe(4 * countFromCheckpoint(fullPath, ADAPTER));
    }
  });

  it('takes the adapter width from the checkpoint when given, I / 16 otherwise', () => {
    expect(decodeStepWeightBytes(cfg, [false, false], 20)).toBe(4 * countFromCheckpoint([false, false], 20));
    expect(decodeStepWeightBytes(cfg, [false, false])).toBe(decodeStepWeightBytes(cfg, [false, false], 192 / 16));
  });

  it('skipping reads less than the full model, and bytes scale with the weight width', () => {
    const full = decodeStepWeightBytes(cfg, null, ADAPTER);
    expect(full).toBeGreaterThan(decodeStepWeightBytes(cfg, [false, false], ADAPTER));
    expect(decodeStepWeightBytes(cfg, null, ADAPTER, 2)).toBe(full / 2);
    expect(decodeStepWeightBytes(cfg, [true, false], ADAPTER, 2)).toBe(decodeStepWeightBytes(cfg, [true, false], ADAPTER) / 2);
  });

  it('refuses a mask that does not match the routed layers', () => {
    expect(() => decodeStepWeightBytes(cfg, [true])).toThrow(/1 routing decisions for 2 routed layers/);
  });
});

describe('memory read bandwidth probe', () => {
  it('reports a finite median within its spread', () => {
    const bw = measureMemoryReadBandwidth({ bytes: 8 * 1024 * 1024, repeats: 3 });
    expect(bw.buffer_bytes).toBe(8 * 1024 * 1024);
    expect(bw.repeats).toBe(3);
    expect(Number.isFinite(bw.bytes_per_s)).toBe(true);
    expect(bw.bytes_per_s).toBeGreaterThan(1e8);
    expect(bw.spread.min).toBeLessThanOrEqual(bw.bytes_per_s);
    expect(bw.bytes_per_s).toBeLessThanOrEqual(bw.spread.max);
  });

  it('refuses a size or repeat count that is not a positive integer', () => {
    expect(() => measureMemoryReadBandwidth({ bytes: 0 })).toThrow(/bytes must be a positive integer/);
    expect(() => measureMemoryReadBandwidth({ repeats: 1.5 })).toThrow(/repeats must be a positive integer/);
  });
});
