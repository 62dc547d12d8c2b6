/**
 * safetensors reading and writing: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets}}`, then raw little-endian data. Reading converts
 * F32, F16 and BF16 to Float32Array (the engine computes in float32).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync, fstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.ts';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * A NaN or Inf weight does not fail inference: it turns logits and gates into NaN, and a run then
 * scores 0 with no word of why. Non-finite values are refused here, while the data is decoded, so
 * the check costs no extra pass for F16/BF16 and one integer pass for F32 (8B models load in
 * seconds either way). The tests are on the exponent bits: all ones is Inf or NaN in every format.
 */
function nonFinite(file: string, name: string, index: number, value: number): UserError {
  return new UserError(`${file}: tensor '${name}' holds ${value} at index ${index}; the checkpoint is damaged (re-export or re-download it)`);
}

function decode(dtype: string, bytes: Buffer, file: string, name: string): Float32Array {
  const count = bytes.length / BYTES[dtype]!;
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    // Offsets in a safetensors file need not be 4-byte aligned: copy before viewing.
    new Uint8Array(out.buffer).set(bytes);
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) if ((u32[i]! & 0x7f800000) === 0x7f800000) throw nonFinite(file, name, i, out[i]!);
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) {
      const h = bytes.readUInt16LE(2 * i);
      if ((h & 0x7c00) === 0x7c00) throw nonFinite(file, name, i, f16ToF32(h));
      out[i] = f16ToF32(h);
    }
  } else if (dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) {
      const h = bytes.readUInt16LE(2 * i);
      u32[i] = h << 16;
      if ((h & 0x7f80) === 0x7f80) throw nonFinite(file, name, i, out[i]!);
    }
  } else {
    throw new UserError(`${file}: tensor '${name}' has unsupported dtype ${dtype} (supported: F32, F16, BF16)`);
  }
  return out;
}

/** Reads every tensor of one .safetensors file. */
export function readSafetensorsFile(file: string): Map<string, Tensor> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new UserError(`${file}: cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const size = fstatSync(fd).size;
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new UserError(`${file}: not a safetensors file (too short)`);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || 8 + headerLen > size) throw new UserError(`${file}: not a safetensors file (bad header length ${headerLen})`);
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: Record<string, HeaderEntry | Record<string, string>>;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch {
      throw new UserError(`${file}: not a safetensors file (header is not JSON)`);
    }
    const base = 8 + headerLen;
    const tensors = new Map<string, Tensor>();
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const e = entry as HeaderEntry;
      if (!(e.dtype in BYTES)) throw new UserError(`${file}: tensor '${name}' has unsupported dtype ${e.dtype} (supported: F32, F16, BF16)`);
      const [start, end] = e.data_offsets;
      const numel = e.shape.reduce((a, b) => a * b, 1);
      if (end - start !== numel * BYTES[e.dtype]! || base + end > size) {
        throw new UserError(`${file}: tensor '${name}' data does not match its shape [${e.shape.join(', ')}] (file truncated or corrupt)`);
      }
      const bytes = Buffer.alloc(end - start);
      readSync(fd, bytes, 0, end - start, base + start);
      tensors.set(name, { shape: e.shape, data: decode(e.dtype, bytes, file, name) });
    }
    return tensors;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the weights of a checkpoint directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`.
 */
export function readCheckpointWeights(dir: string): Map<string, Tensor> {
  const index = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  if (existsSync(index)) {
    let weightMap: Record<string, string>;
    try {
      weightMap = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
    } catch (err) {
      throw new UserError(`${index}: cannot read the shard index (${(err as Error).message})`);
    }
    if (typeof weightMap !== 'object' || weightMap === null) throw new UserError(`${index}: missing 'weight_map'`);
    const all = new Map<string, Tensor>();
    for (const shard of new Set(Object.values(weightMap))) {
      for (const [name, t] of readSafetensorsFile(join(dirname(index), shard))) all.set(name, t);
    }
    return all;
  }
  if (existsSync(single)) return readSafetensorsFile(single);
  throw new UserError(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/** Writes float32 tensors as one safetensors file (names sorted, as the reference writer does). */
export function writeSafetensorsFile(file: string, tensors: Map<string, Tensor>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  const names = [...tensors.keys()].sort();
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header with spaces so the data starts 8-byte aligned.
  const headerBytes = Buffer.concat([json, Buffer.from(' '.repeat((8 - (json.length % 8)) % 8))]);
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  writeFileSync(file, out);
}
