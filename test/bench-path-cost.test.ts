// Multiply-adds per decode step (src/model/path-cost.ts) against a count by hand on a tiny config.
import { describe, expect, it } from 'vitest';
import { decodeStepMultiplyAdds, layerCost, type PathCostConfig } from '../src/model/path-cost.ts';

// d 32, 4 query heads and 2 key heads of dim 8, FFN 32 -> 64 -> 32, vocabulary 10, layer 1 routed.
const cfg: PathCostConfig = {
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  vocabSize: 10,
  routingLayers: [1],
};

// By hand, for a token attending to T = 3 keys:
//   k, v        2 x (32 x 16)                      = 1024
//   q, o        2 x (32 x 32)                      = 2048
//   attention   scores 32 x 3 + values 3 x 32      =  192   (4 heads x 8 dims x 3 keys, twice)
//   MLP         gate, up 32 x 64; down 64 x 32     = 6144
//   router      enc 32 x 2, dec 2 x 32, head 32 x 1 =  160  (d/16 = 2)
//   adapter     3 x (32 x 4)                       =  384   (I/16 = 4)
//   LM head     32 x 10                            =  320
const plain = 1024 + 2048 + 192 + 6144; // 9408

describe('path cost', () => {
  it('counts each part of a layer by hand', () => {
    expect(layerCost(cfg, 3)).toEqual({ keyValue: 1024, attention: 2048 + 192, mlp: 6144, router: 160, adapter: 384 });
    // Attention grows with the keys, nothing else does.
    expect(layerCost(cfg, 4).attention - layerCost(cfg, 3).attention).toBe(64);
  });

  it('full variant: every layer plain, plus the LM head', () => {
    expect(decodeStepMultiplyAdds(cfg, 3, null)).toBe(320 + 2 * plain); // 19136
  });

  it('flexidepth: the routed layer pays router and K/V always, then the full path or the adapter', () => {
    expect(decodeStepMultiplyAdds(cfg, 3, [true])).toBe(320 + plain + 160 + plain); // 19296
    expect(decodeStepMultiplyAdds(cfg, 3, [false])).toBe(320 + plain + 160 + 1024 + 384); // 11296
    // An adapter of another width (a checkpoint's own) is honoured.
    expect(decodeStepMultiplyAdds(cfg, 3, [false], 8)).toBe(320 + plain + 160 + 1024 + 768);
  });

  it('refuses a mask that does not match the routed layers', () => {
    expect(() => decodeStepMultiplyAdds(cfg, 3, [true, false])).toThrow(/2 routing decisions for 1 routed layers/);
  });
});
