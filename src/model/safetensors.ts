/**
 * safetensors reading and writing: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets}}`, then raw little-endian data. Reading converts
 * F32, F16 and BF16 to Float32Array (the engine computes in float32).
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { quoteValue } from '../quote-value.ts';
import { FILE_KINDS, openUserFile, parseJsonText, readFully, readJsonObject } from '../user-file.ts';

export interface Tensor {
  shape: number[];
  data: Float32Array;
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

/** float32 of every float16 bit pattern: decoding by lookup is several times faster than by arithmetic. */
let f16Table: Float32Array | undefined;
const f16Values = (): Float32Array => (f16Table ??= Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h)));

/** The 16-bit words of `bytes` (little-endian, as safetensors stores them), copied first when unaligned. */
function words(bytes: Buffer, count: number): Uint16Array {
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : Buffer.from(bytes);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, count);
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
    const table = f16Values();
    const h = words(bytes, count);
    for (let i = 0; i < count; i++) {
      if ((h[i]! & 0x7c00) === 0x7c00) throw nonFinite(file, name, i, table[h[i]!]!);
      out[i] = table[h[i]!]!;
    }
  } else if (dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    const h = words(bytes, count);
    for (let i = 0; i < count; i++) {
      if ((h[i]! & 0x7f80) === 0x7f80) throw nonFinite(file, name, i, new Float32Array(Uint32Array.of(h[i]! << 16).buffer)[0]!);
      u32[i] = h[i]! << 16;
    }
  } else {
    throw new UserError(`${file}: tensor '${name}' has unsupported dtype ${dtype} (supported: F32, F16, BF16)`);
  }
  return out;
}

/**
 * The safetensors format's own bound on the header (the reference implementation's
 * MAX_HEADER_SIZE): checked before the header is read, with the file's size.
 */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor as a safetensors header describes it, validated against the file. */
export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** Byte range [begin, end) of its data, from the start of the data section. */
  begin: number;
  end: number;
}

/** The validated header of one safetensors file: what is in it and where, before any data is read. */
export interface SafetensorsHeader {
  file: string;
  /** File size when the header was read; reading the data checks it again. */
  size: number;
  /** Where the data section starts: 8 + the header's length. */
  dataStart: number;
  tensors: Map<string, TensorEntry>;
}

/** A tensor name as messages show it: a header may hold a name of any length. */
export function tensorLabel(name: string): string {
  return name.length > 120 ? `${name.slice(0, 120)}...` : name;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * One header entry, checked as the format requires: a known dtype, a shape of non-negative
 * integers, and data_offsets [begin, end] inside the data section holding exactly the shape's bytes.
 * A bad entry would otherwise read the wrong bytes (negative or fractional offsets), or throw from
 * deep inside the reader (a null entry, a missing shape).
 */
function headerEntry(file: string, name: string, raw: unknown, dataBytes: number): TensorEntry {
  const at = `${file}: tensor '${tensorLabel(name)}'`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UserError(`${at}: its header entry must be an object with dtype, shape and data_offsets, got ${quoteValue(raw)}`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype)) {
    throw new UserError(`${at} has unsupported dtype ${typeof dtype === 'string' ? dtype.slice(0, 40) : quoteValue(dtype)} (supported: F32, F16, BF16)`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) throw new UserError(`${at}: shape must be a list of non-negative integers, got ${quoteValue(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) {
    throw new UserError(`${at}: data_offsets must be two integers [begin, end] with 0 <= begin <= end, got ${quoteValue(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  // A product past 2^53 is inexact, but then it is past any file's size as well and still refused.
  const bytes = shape.reduce((a: number, b: number) => a * b, BYTES[dtype]!);
  if (end - begin !== bytes || end > dataBytes) {
    const why =
      end > dataBytes ? `its data ends at byte ${end}, past the file's ${dataBytes}` : `its data_offsets hold ${end - begin} bytes, the shape needs ${bytes}`;
    throw new UserError(`${at} data does not match its shape [${shape.join(', ')}]: ${why} (file truncated or corrupt)`);
  }
  return { dtype, shape, begin, end };
}

/** Two tensors over the same bytes: a damaged or hand-made header, since writers lay tensors end to end. */
function refuseOverlaps(file: string, tensors: Map<string, TensorEntry>): void {
  const byBegin = [...tensors].filter(([, t]) => t.end > t.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let k = 1; k < byBegin.length; k++) {
    const [prevName, prev] = byBegin[k - 1]!;
    const [name, t] = byBegin[k]!;
    if (t.begin < prev.end) {
      throw new UserError(
        `${file}: tensor '${tensorLabel(name)}' overlaps tensor '${tensorLabel(prevName)}' (data_offsets [${t.begin}, ${t.end}] and [${prev.begin}, ${prev.end}])`,
      );
    }
  }
}

/** Reads and validates the header of one .safetensors file; no tensor data is read. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const { fd, size } = openUserFile(file, FILE_KINDS.safetensors);
  try {
    if (size < 8) throw new UserError(`${file}: not a safetensors file (too short)`);
    const headerLen = Number(readFully(fd, file, Buffer.alloc(8), 0).readBigUInt64LE(0));
    if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
      throw new UserError(
        `${file}: not a safetensors file (bad header length ${headerLen}: the file has ${size} bytes, the format allows ${MAX_HEADER_BYTES})`,
      );
    }
    const header = parseJsonText(readFully(fd, file, Buffer.alloc(headerLen), 8).toString('utf8'), `${file}: header`);
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      throw new UserError(`${file}: not a safetensors file (header is not a JSON object)`);
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, TensorEntry>();
    for (const [name, entry] of Object.entries(header)) {
      if (name !== '__metadata__') tensors.set(name, headerEntry(file, name, entry, size - dataStart));
    }
    refuseOverlaps(file, tensors);
    return { file, size, dataStart, tensors };
  } finally {
    closeSync(fd);
  }
}

/** Reads the named tensors (all when not given) of a file whose header was read by readSafetensorsHeader. */
export function readTensors(header: SafetensorsHeader, names: Iterable<string> = header.tensors.keys()): Map<string, Tensor> {
  const { file } = header;
  const { fd, size } = openUserFile(file, FILE_KINDS.safetensors);
  try {
    if (size !== header.size) throw new UserError(`${file}: changed while being read (${header.size} bytes, now ${size}); run again`);
    const tensors = new Map<string, Tensor>();
    for (const name of names) {
      const e = header.tensors.get(name);
      if (e === undefined) throw new Error(`readTensors: ${file} has no tensor ${name}`);
      const bytes = readFully(fd, file, Buffer.alloc(e.end - e.begin), header.dataStart + e.begin);
      tensors.set(name, { shape: e.shape, data: decode(e.dtype, bytes, file, name) });
    }
    return tensors;
  } finally {
    closeSync(fd);
  }
}

/** Reads every tensor of one .safetensors file. */
export function readSafetensorsFile(file: string): Map<string, Tensor> {
  return readTensors(readSafetensorsHeader(file));
}

/**
 * The weight files of a checkpoint directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` (which must sit in the same folder: the checkpoint's content hash
 * covers that folder's files only).
 */
function checkpointWeightFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  if (existsSync(index)) {
    const weightMap = readJsonObject(index, FILE_KINDS.safetensorsIndex)['weight_map'];
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) throw new UserError(`${index}: missing 'weight_map' (an object)`);
    const shards = new Set<string>();
    for (const [name, shard] of Object.entries(weightMap)) {
      if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard === '.' || shard === '..') {
        throw new UserError(`${index}: weight_map gives tensor '${tensorLabel(name)}' the shard ${quoteValue(shard)}; expected a file name in ${dir}`);
      }
      shards.add(shard);
    }
    return [...shards].map((shard) => join(dir, shard));
  }
  if (existsSync(single)) return [single];
  throw new UserError(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/** The validated headers of a checkpoint's weight files; refuses a tensor that two shards both hold. */
export function readCheckpointHeaders(dir: string): { headers: SafetensorsHeader[]; where: Map<string, SafetensorsHeader> } {
  const headers = checkpointWeightFiles(dir).map(readSafetensorsHeader);
  const where = new Map<string, SafetensorsHeader>();
  for (const h of headers) {
    for (const name of h.tensors.keys()) {
      const other = where.get(name);
      if (other !== undefined) throw new UserError(`${h.file}: tensor '${tensorLabel(name)}' is also in ${other.file}; each tensor must be in one shard`);
      where.set(name, h);
    }
  }
  return { headers, where };
}

/** The dtypes flexibench writes: float32, and bfloat16 as checkpoints are shipped. */
export type WrittenDtype = 'F32' | 'BF16';

/**
 * Float32 values as bfloat16, little-endian, into `out`: round to nearest, ties to even, as
 * PyTorch's `.to(torch.bfloat16)` does. Finite values only (a weight is never NaN here).
 */
export function encodeBf16(values: Float32Array, out: Buffer): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    out.writeUInt16LE(((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff, 2 * i);
  }
}

/**
 * A safetensors file written tensor by tensor: the header (every name, shape and offset, known
 * before any data) first, then each tensor's data as it comes, so a writer holds one tensor, not
 * the file, in memory, and a file may pass Node's largest Buffer. Tensors are written in the
 * order `specs` gives.
 */
export class SafetensorsFileWriter {
  private next = 0;

  private constructor(
    private readonly fd: number,
    private readonly specs: readonly { name: string; shape: readonly number[] }[],
    private readonly dtype: WrittenDtype,
  ) {}

  static open(
    file: string,
    specs: readonly { name: string; shape: readonly number[] }[],
    dtype: WrittenDtype = 'F32',
    metadata?: Record<string, string>,
  ): SafetensorsFileWriter {
    const header: Record<string, unknown> = {};
    if (metadata) header['__metadata__'] = metadata;
    let offset = 0;
    for (const { name, shape } of specs) {
      const bytes = shape.reduce((a, b) => a * b, BYTES[dtype]!);
      header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    // Pad the header with spaces so the data starts 8-byte aligned.
    const padded = Buffer.concat([json, Buffer.from(' '.repeat((8 - (json.length % 8)) % 8))]);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(padded.length), 0);
    const fd = openSync(file, 'w');
    writeAll(fd, length);
    writeAll(fd, padded);
    return new SafetensorsFileWriter(fd, specs, dtype);
  }

  /** The next tensor's values, in float32; converted to the file's dtype as written. */
  write(name: string, data: Float32Array): void {
    const spec = this.specs[this.next];
    if (spec === undefined || spec.name !== name) throw new Error(`safetensors writer: expected ${spec?.name ?? 'no more tensors'}, got ${name}`);
    if (data.length !== spec.shape.reduce((a, b) => a * b, 1))
      throw new Error(`safetensors writer: ${name} has ${data.length} values for shape [${spec.shape.join(', ')}]`);
    if (this.dtype === 'F32') writeAll(this.fd, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    else {
      const out = Buffer.allocUnsafe(2 * data.length);
      encodeBf16(data, out);
      writeAll(this.fd, out);
    }
    this.next++;
  }

  close(): void {
    closeSync(this.fd);
    if (this.next !== this.specs.length) throw new Error(`safetensors writer: closed after ${this.next} of ${this.specs.length} tensors`);
  }

  /** Closes the file after a failure, leaving it partial: the caller removes or replaces it. */
  abort(): void {
    closeSync(this.fd);
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Writes tensors as one safetensors file (names sorted, as the reference writer does). */
export function writeSafetensorsFile(file: string, tensors: Map<string, Tensor>, metadata?: Record<string, string>, dtype: WrittenDtype = 'F32'): void {
  const names = [...tensors.keys()].sort();
  const writer = SafetensorsFileWriter.open(
    file,
    names.map((name) => ({ name, shape: tensors.get(name)!.shape })),
    dtype,
    metadata,
  );
  try {
    for (const name of names) writer.write(name, tensors.get(name)!.data);
  } catch (err) {
    writer.abort();
    throw err;
  }
  writer.close();
}
