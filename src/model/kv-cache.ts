/** One sequence's KV cache buffers, as DecoderSession.step reads and extends them, and how they grow. */
import type * as ort from 'onnxruntime-node';

/**
 * The KV cache of one sequence: per layer and kind a buffer [1,1,kvH,capacity,hd] (float32, or
 * float16 for an fp16 graph: KvType) whose first `length` slots of each head are filled. A step reads the buffers in place and writes only the new rows into
 * them, growing the buffers (by an eighth, at least 64 slots) when they are full.
 */
export interface KvCache {
  /** Tokens already in the cache. */
  length: number;
  /** past.{i}.key / past.{i}.value buffers, [1, 1, kvH, capacity, hd]. */
  tensors: Record<string, ort.Tensor>;
  capacity: number;
  /**
   * Slots filled in these buffers by any step, shared by every cache on them: a cache shorter than
   * this was already extended once, so extending it again copies the buffers instead of overwriting
   * the other extension's rows.
   */
  readonly buffers: { filled: number };
}

/** Slots to allocate for `needed`: an eighth more (at least 64), in multiples of 64, within the model's positions. */
export function grownCapacity(needed: number, maxPositions: number): number {
  return Math.max(needed, Math.min(maxPositions, Math.ceil((needed + Math.max(64, needed >> 3)) / 64) * 64));
}

/**
 * The cache's element type, as the graph's past.* inputs and present output have it
 * (kvCacheType in graph-builder.ts): float16 in an fp16 graph, held as its bit patterns.
 */
export type KvType = 'float32' | 'float16';
export type KvData = Float32Array | Uint16Array;

/**
 * A tensor's cache data as the copies here take it: float16 as its bit patterns. Where the runtime
 * has Float16Array (newer Node), ONNX Runtime hands float16 data out as one, and copying that into
 * a Uint16Array would convert the values: it is viewed as its bits instead.
 */
export function kvData(tensor: ort.Tensor): KvData {
  const { data } = tensor;
  if (data instanceof Float32Array || data instanceof Uint16Array) return data;
  if (tensor.type === 'float16' && ArrayBuffer.isView(data)) return new Uint16Array(data.buffer, data.byteOffset, tensor.size);
  throw new Error(`KV cache: a ${tensor.type} tensor, expected float32 or float16`);
}

/** A zeroed buffer of `length` elements of `type`. */
export function kvBuffer(type: KvType, length: number): KvData {
  return type === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

/**
 * Copies the first `slots` slots of every head from `from`, laid out [kvH, fromSlots, hd], into
 * `to`, laid out [kvH, toSlots, hd], starting at slot `at`: how a cache grows, takes a step's new
 * rows, or moves into a batch's row (pass that row's subarray). Both of one element type.
 */
export function copyHeadSlots<T extends KvData>(from: T, fromSlots: number, to: T, toSlots: number, slots: number, at: number, kvH: number, hd: number): void {
  for (let h = 0; h < kvH; h++) to.set(from.subarray(h * fromSlots * hd, (h * fromSlots + slots) * hd), (h * toSlots + at) * hd);
}
