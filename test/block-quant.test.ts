import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { dequantize, matMulNBitsInputs, quantizeLinear, type BlockQuantized, type QuantBits } from '../src/model/block-quant.ts';
import { OnnxGraph } from '../src/model/onnx-graph.ts';
import { SeededRandom } from '../src/seeded-random.ts';

/**
 * Rows of different magnitudes and signs: some centred on 0, some all positive or all negative (the
 * zero point then sits at an end of the code range), some with runs of exact zeros.
 */
function weights(out: number, inp: number, rng: SeededRandom): Float32Array {
  const w = new Float32Array(out * inp);
  for (let n = 0; n < out; n++) {
    const magnitude = 10 ** rng.int(-3, 1);
    const shift = [0, 0.5, -0.5, 0.2][n % 4]!;
    for (let k = 0; k < inp; k++) w[n * inp + k] = n % 5 === 4 && k % 7 < 3 ? 0 : (rng.float() - 0.5 + shift) * magnitude;
  }
  return w;
}

/**
 * The documented layout, read as one little-endian bit stream per row: value j of a row is the
 * `bits` bits from bit j · bits. Written apart from the quantizer, so that a wrong nibble order in
 * either shows up as a mismatch.
 */
function bitField(bytes: Uint8Array, rowStart: number, j: number, bits: number): number {
  let value = 0;
  for (let t = 0; t < bits; t++) {
    const bit = j * bits + t;
    value |= ((bytes[rowStart + Math.floor(bit / 8)]! >> bit % 8) & 1) << t;
  }
  return value;
}

function unpack(q: BlockQuantized): { codes: number[][]; zeroPoints: number[][] } {
  const rowBytes = (q.kBlocks * q.blockSize * q.bits) / 8;
  const zpRowBytes = q.zeroPoints.length / q.n;
  const codes: number[][] = [];
  const zeroPoints: number[][] = [];
  for (let n = 0; n < q.n; n++) {
    codes.push(Array.from({ length: q.kBlocks * q.blockSize }, (_, j) => bitField(q.packed, n * rowBytes, j, q.bits)));
    zeroPoints.push(Array.from({ length: q.kBlocks }, (_, b) => bitField(q.zeroPoints, n * zpRowBytes, b, q.bits)));
  }
  return { codes, zeroPoints };
}

describe('block quantization (round to nearest, asymmetric)', () => {
  it('stays within half a step of every weight, and unpacks by the documented rule', () => {
    const rng = new SeededRandom(11);
    const out = 10;
    for (const bits of [4, 8] as const) {
      for (const blockSize of [16, 32, 128]) {
        for (const inp of [2 * blockSize, 100, 300]) {
          const w = weights(out, inp, rng);
          const q = quantizeLinear(w, out, inp, { bits, blockSize });
          const kBlocks = Math.ceil(inp / blockSize);
          const qmax = 2 ** bits - 1;
          expect([q.n, q.k, q.kBlocks]).toEqual([out, inp, kBlocks]);
          expect(q.packed.length).toBe((out * kBlocks * blockSize * bits) / 8);
          expect(q.scales.length).toBe(out * kBlocks);
          expect(q.zeroPoints.length).toBe(out * Math.ceil((kBlocks * bits) / 8));

          const { codes, zeroPoints } = unpack(q);
          const values = new Float64Array(out * inp);
          let worst = 0;
          for (let n = 0; n < out; n++) {
            for (let b = 0; b < kBlocks; b++) {
              const scale = q.scales[n * kBlocks + b]!;
              const zp = zeroPoints[n]![b]!;
              const block = codes[n]!.slice(b * blockSize, (b + 1) * blockSize);
              const inside = Math.min(blockSize, inp - b * blockSize);
              // Padding dequantizes to 0.
              expect(block.slice(inside)).toEqual(new Array(blockSize - inside).fill(zp));
              block.slice(0, inside).forEach((code, i) => {
                const k = n * inp + b * blockSize + i;
                values[k] = (code - zp) * scale;
                worst = Math.max(worst, Math.abs(values[k] - w[k]!) / scale);
              });
              // Asymmetric: the block's range, 0 included, spans (nearly) all codes, not just half of them.
              expect(Math.min(zp, ...block.slice(0, inside))).toBeLessThanOrEqual(1);
              expect(Math.max(zp, ...block.slice(0, inside))).toBeGreaterThanOrEqual(qmax - 1);
            }
          }
          expect(dequantize(q)).toEqual(values);
          // Half a step, plus what rounding the scale to float32 can add across the code range.
          expect(worst).toBeLessThanOrEqual(0.5 + qmax * 2 ** -23);
        }
      }
    }
  });

  it('dequantizes zero blocks, zeros inside blocks and the padding to exact zeros', () => {
    const inp = 100;
    const w = new Float32Array(3 * inp);
    // Row 0 all zeros; row 1 nonzero only in its second block; row 2 ends in zeros in the padded block.
    for (let k = 32; k < 64; k++) w[inp + k] = (k % 3) - 1.25;
    for (let k = 0; k < 90; k++) w[2 * inp + k] = Math.sin(k) * 0.01;
    for (const bits of [4, 8] as const) {
      const q = quantizeLinear(w, 3, inp, { bits, blockSize: 32 });
      const dq = dequantize(q);
      for (let i = 0; i < w.length; i++) if (w[i] === 0) expect(dq[i]).toBe(0);
      expect(Array.from(dq.subarray(0, inp))).toEqual(new Array(inp).fill(0));
    }
  });

  it('rejects what MatMulNBits cannot take and weights that are not finite', () => {
    const w = new Float32Array(2 * 32);
    expect(() => quantizeLinear(w, 2, 32, { bits: 2 as QuantBits, blockSize: 32 })).toThrow(/bits must be 4 or 8/);
    expect(() => quantizeLinear(w, 2, 32, { bits: 4, blockSize: 24 })).toThrow(/power of two >= 16/);
    expect(() => quantizeLinear(w, 2, 32, { bits: 4, blockSize: 8 })).toThrow(/power of two >= 16/);
    expect(() => quantizeLinear(w, 3, 32, { bits: 4, blockSize: 32 })).toThrow(/64 values for shape \[3, 32\]/);
    w[40] = NaN;
    expect(() => quantizeLinear(w, 2, 32, { bits: 8, blockSize: 32 })).toThrow(/weight \[1, 8\] is NaN/);
  });
});

/**
 * ONNX Runtime multiplies in float32 (accuracy_level 0): over K = 256 products the accumulation
 * error is about sqrt(K) · 2^-24 of the largest output, a few 1e-7, so 1e-5 leaves room for other
 * summation orders (other SIMD widths) while staying far below the quantization error itself,
 * which the test also checks so that a comparison against the unquantized weight cannot pass.
 */
const TOLERANCE = 1e-5;

/** max |y − want| / max |want|, `want` [M, N] = a [M, K] · w [N, K]ᵀ in float64. */
function relativeError(y: Float32Array, a: Float32Array, w: ArrayLike<number>, m: number, k: number, n: number): number {
  let err = 0;
  let peak = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let want = 0;
      for (let t = 0; t < k; t++) want += a[i * k + t]! * w[j * k + t]!;
      err = Math.max(err, Math.abs(y[i * n + j]! - want));
      peak = Math.max(peak, Math.abs(want));
    }
  }
  return err / peak;
}

async function matMulNBitsSession(q: BlockQuantized): Promise<ort.InferenceSession> {
  const p = matMulNBitsInputs(q, 0);
  const g = new OnnxGraph();
  const a = g.input('A', 'float', ['M', q.k]);
  const b = g.initializer('B', p.b.dims, p.b.data);
  const scales = g.initializer('scales', p.scales.dims, p.scales.data);
  const zeroPoints = g.initializer('zero_points', p.zeroPoints.dims, p.zeroPoints.data);
  g.node('/linear', 'MatMulNBits', [a, b, scales, zeroPoints], p.attrs, 1, 'com.microsoft', ['Y']);
  g.output('Y', 'float', ['M', q.n]);
  return ort.InferenceSession.create(g.encode(), { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

describe('MatMulNBits on ONNX Runtime (CPU) computes A · dequantize(q)ᵀ', () => {
  // K = 80 has 3 blocks: the last one padded, and for 4 bits an odd count of zero points per row.
  for (const bits of [4, 8] as const) {
    for (const k of [256, 80]) {
      it(`${bits} bits, K = ${k}, N = 96, block 32`, async () => {
        const rng = new SeededRandom(100 + bits + k);
        const n = 96;
        const w = weights(n, k, rng);
        const q = quantizeLinear(w, n, k, { bits, blockSize: 32 });
        const dq = dequantize(q);
        const session = await matMulNBitsSession(q);
        try {
          for (const m of [1, 5]) {
            const a = Float32Array.from({ length: m * k }, () => rng.float() * 2 - 1);
            const { Y } = await session.run({ A: new ort.Tensor('float32', a, [m, k]) });
            expect(Y!.dims).toEqual([m, n]);
            const y = Y!.data as Float32Array;
            expect(relativeError(y, a, dq, m, k, n)).toBeLessThan(TOLERANCE);
            expect(relativeError(y, a, w, m, k, n)).toBeGreaterThan(10 * TOLERANCE);
          }
        } finally {
          await session.release();
        }
      });
    }
  }
});
