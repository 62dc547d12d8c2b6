/**
 * Weight-only block quantization for ONNX Runtime's contrib op `com.microsoft.MatMulNBits`
 * (Y = A · dequant(B)ᵀ), round-to-nearest (RTN) and asymmetric, as onnxruntime's own
 * MatMulNBits quantizer does in its default mode.
 *
 * A torch Linear weight [out, in] is already MatMulNBits' B layout: N = out rows, each cut along
 * K = in into blocks of `blockSize` values; the last block is padded with zeros when K is not a
 * multiple of it. Per block, with Q = 2^bits − 1:
 *   - range: [min, max] of the block, widened to include 0, so that 0 (padding, pruned weights)
 *     dequantizes to exactly 0;
 *   - scale = (max − min) / Q, rounded to float32 (the stored value); a block whose range is 0, or
 *     too narrow for a nonzero float32 scale, gets scale 1 and codes that dequantize to 0;
 *   - zero point = round(−min / scale) clamped to [0, Q], an integer, which is what keeps 0 exact;
 *   - code = clamp(round(w / scale) + zero point, 0, Q), using the stored float32 scale so that the
 *     error bound below holds for what the runtime actually multiplies by.
 * `Math.round` (halves up) throughout: the runtime reads only codes, so the tie rule is ours.
 * Every weight then dequantizes within scale / 2 of its value (plus float rounding).
 *
 * Why asymmetric: a block of trained weights is rarely centred on 0; spending the zero point on
 * the actual [min, max] uses all 2^bits codes, where a symmetric abs-max grid leaves up to half of
 * them unused on a skewed block. It costs one zero point per block (4 or 8 bits per `blockSize`
 * weights).
 *
 * Packing (MatMulNBits): codes go low bits first along K. For 4 bits, value 2i of a block is the
 * low nibble of the block's byte i and value 2i + 1 the high nibble; for 8 bits one byte per value.
 * Zero points: for 8 bits one byte per block, [N, kBlocks]; for 4 bits two blocks per byte (the
 * even block in the low nibble), each row padded to whole bytes, [N, ceil(kBlocks / 2)].
 */

export type QuantBits = 4 | 8;

export interface BlockQuantized {
  bits: QuantBits;
  blockSize: number;
  /** Output features: MatMulNBits' N. */
  n: number;
  /** Input features: MatMulNBits' K. */
  k: number;
  kBlocks: number;
  /** Codes, [n, kBlocks, blockSize · bits / 8]. */
  packed: Uint8Array;
  /** [n · kBlocks], row-major by output feature. */
  scales: Float32Array;
  /** MatMulNBits' layout: [n, kBlocks] for 8 bits, [n, ceil(kBlocks / 2)] nibble-packed for 4 bits. */
  zeroPoints: Uint8Array;
}

/** Bytes of zero points per output row. */
const zeroPointBytesPerRow = (bits: QuantBits, kBlocks: number): number => Math.ceil((kBlocks * bits) / 8);

/**
 * Quantizes a torch Linear weight `weight` [out, inp] (row-major) to `bits` per weight, one scale
 * and zero point per `blockSize` consecutive input features of an output row.
 */
export function quantizeLinear(weight: Float32Array, out: number, inp: number, opts: { bits: QuantBits; blockSize: number }): BlockQuantized {
  const { bits, blockSize } = opts;
  if (bits !== 4 && bits !== 8) throw new Error(`block quantization: bits must be 4 or 8, got ${String(bits)}`);
  // MatMulNBits requires a power of two of at least 16.
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)
    throw new Error(`block quantization: block size must be a power of two >= 16, got ${blockSize}`);
  if (!Number.isInteger(out) || !Number.isInteger(inp) || out < 1 || inp < 1) throw new Error(`block quantization: bad shape [${out}, ${inp}]`);
  if (weight.length !== out * inp) throw new Error(`block quantization: ${weight.length} values for shape [${out}, ${inp}]`);

  const qmax = (1 << bits) - 1;
  const kBlocks = Math.ceil(inp / blockSize);
  const blob = (blockSize * bits) / 8;
  const zpRow = zeroPointBytesPerRow(bits, kBlocks);
  const packed = new Uint8Array(out * kBlocks * blob);
  const scales = new Float32Array(out * kBlocks);
  const zeroPoints = new Uint8Array(out * zpRow);
  const codes = new Uint8Array(blockSize);

  for (let n = 0; n < out; n++) {
    const row = n * inp;
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize;
      const len = Math.min(blockSize, inp - k0);
      let min = 0;
      let max = 0;
      for (let i = 0; i < len; i++) {
        const w = weight[row + k0 + i]!;
        if (!Number.isFinite(w)) throw new Error(`block quantization: weight [${n}, ${k0 + i}] is ${w}`);
        if (w < min) min = w;
        else if (w > max) max = w;
      }
      let scale = Math.fround((max - min) / qmax);
      if (scale === 0) scale = 1;
      const zp = Math.min(qmax, Math.max(0, Math.round(-min / scale)));
      for (let i = 0; i < len; i++) codes[i] = Math.min(qmax, Math.max(0, Math.round(weight[row + k0 + i]! / scale) + zp));
      // Padding takes the zero point's code, which dequantizes to exactly 0.
      codes.fill(zp, len);

      const q = n * kBlocks + b;
      scales[q] = scale;
      const at = q * blob;
      if (bits === 8) packed.set(codes, at);
      else for (let i = 0; i < blob; i++) packed[at + i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
      if (bits === 8) zeroPoints[n * zpRow + b] = zp;
      else zeroPoints[n * zpRow + (b >> 1)]! |= zp << ((b & 1) * 4);
    }
  }
  return { bits, blockSize, n: out, k: inp, kBlocks, packed, scales, zeroPoints };
}

/** The weight `q` stands for, [n, k] row-major, in float64 so that comparisons see only the quantization error. */
export function dequantize(q: BlockQuantized): Float64Array {
  const { bits, blockSize, n: rows, k: cols, kBlocks, packed, scales, zeroPoints } = q;
  const blob = (blockSize * bits) / 8;
  const zpRow = zeroPointBytesPerRow(bits, kBlocks);
  const outW = new Float64Array(rows * cols);
  for (let n = 0; n < rows; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const scale = scales[n * kBlocks + b]!;
      const zp = bits === 8 ? zeroPoints[n * zpRow + b]! : (zeroPoints[n * zpRow + (b >> 1)]! >> ((b & 1) * 4)) & 0xf;
      const at = (n * kBlocks + b) * blob;
      const len = Math.min(blockSize, cols - b * blockSize);
      for (let i = 0; i < len; i++) {
        const code = bits === 8 ? packed[at + i]! : (packed[at + (i >> 1)]! >> ((i & 1) * 4)) & 0xf;
        outW[n * cols + b * blockSize + i] = (code - zp) * scale;
      }
    }
  }
  return outW;
}

/**
 * What a graph needs for one MatMulNBits node: its three weight initializers (B, scales,
 * zero_points, in that input order after A) with ONNX Runtime's shapes, and the node's attributes.
 * `accuracyLevel` 0 computes in A's float type; 4 quantizes A to int8 blockwise for the product:
 * faster on CPU and less exact. For 8 bits, ONNX Runtime's CPU kernel has a fused kernel only at
 * level 4; at 0 it dequantizes the whole weight on every run, slower than a float32 MatMul.
 */
export function matMulNBitsInputs(
  q: BlockQuantized,
  accuracyLevel: 0 | 1 | 2 | 3 | 4 = 0,
): {
  b: { dims: number[]; data: Uint8Array };
  scales: { dims: number[]; data: Float32Array };
  zeroPoints: { dims: number[]; data: Uint8Array };
  attrs: { K: number; N: number; bits: number; block_size: number; accuracy_level: number };
} {
  const blob = (q.blockSize * q.bits) / 8;
  return {
    b: { dims: [q.n, q.kBlocks, blob], data: q.packed },
    scales: { dims: [q.n * q.kBlocks], data: q.scales },
    zeroPoints: { dims: [q.zeroPoints.length], data: q.zeroPoints },
    attrs: { K: q.k, N: q.n, bits: q.bits, block_size: q.blockSize, accuracy_level: accuracyLevel },
  };
}
