/**
 * The KV caches of the sequences a batched decode step runs together (DecoderSession.stepBatch):
 * per layer and kind one buffer [rows, 1, kvH, capacity, hd], row b holding sequence b's first
 * lengths[b] slots. The graph reads the first `size` rows in place. A sequence joins with the cache
 * its prompt left, alone or in a batched prompt pass (one copy) and leaves by moving the last row into its place, so the active rows
 * stay first and contiguous; the buffers grow (every row copied) when a sequence needs more slots,
 * and shrink when a long one has left.
 */
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from './config.ts';
import { copyHeadSlots, kvBuffer, kvData, type KvCache, type KvData, type KvType } from './kv-cache.ts';

/**
 * Slots the buffers keep beyond the longest row. Every step's attention reads every slot of every
 * row, and every growth copies all rows: growing by 32 at a time balances the two
 * (docs/performance-history.md, "2026-11-29: logits of the rows asked for, and a batch cache fitted to its rows (issues 14 and 15)").
 */
const SPARE_SLOTS = 32;

export class BatchCache {
  /** Filled slots of each active row, in row order. */
  readonly lengths: number[] = [];
  private buffers = new Map<string, KvData>();
  private slots = 0;

  /** `names`: the graph's past.{i}.key/value inputs; `type` their element type. */
  constructor(
    private readonly config: Pick<ModelConfig, 'numKvHeads' | 'headDim' | 'maxPositionEmbeddings'>,
    private readonly names: readonly string[],
    readonly rows: number,
    readonly type: KvType = 'float32',
  ) {
    this.allocate(64);
  }

  get size(): number {
    return this.lengths.length;
  }

  get capacity(): number {
    return this.slots;
  }

  private get kvH(): number {
    return this.config.numKvHeads;
  }

  private get hd(): number {
    return this.config.headDim;
  }

  private get rowFloats(): number {
    return this.kvH * this.slots * this.hd;
  }

  /** Row b of a buffer, [kvH, slots, hd]. */
  private row(data: KvData, b: number): KvData {
    return data.subarray(b * this.rowFloats, (b + 1) * this.rowFloats);
  }

  /** New buffers of `slots` per row, keeping every active row's filled slots. */
  private allocate(slots: number): void {
    const old = { buffers: this.buffers, slots: this.slots, rowFloats: this.rowFloats };
    this.slots = slots;
    this.buffers = new Map(this.names.map((name) => [name, kvBuffer(this.type, this.rows * this.rowFloats)]));
    for (const [name, data] of this.buffers) {
      const from = old.buffers.get(name);
      if (from === undefined) continue;
      this.lengths.forEach((length, b) => copyHeadSlots(from.subarray(b * old.rowFloats), old.slots, this.row(data, b), slots, length, 0, this.kvH, this.hd));
    }
  }

  /**
   * Fits the buffers to `slots` tokens per row (at least every row's filled slots): grown to `slots`
   * + SPARE_SLOTS when short, shrunk to that when more than 3 × SPARE_SLOTS longer (a long sequence
   * left).
   */
  fit(slots: number): void {
    if (slots > this.slots || this.slots - slots > 3 * SPARE_SLOTS) this.allocate(Math.min(this.config.maxPositionEmbeddings, slots + SPARE_SLOTS));
  }

  /** Adds a sequence, with the cache its prompt filled, as the last row; returns its row. */
  add(cache: KvCache): number {
    return this.addRows(cache.length, cache.capacity, (name) => kvData(cache.tensors[name]!));
  }

  /**
   * Adds a sequence as the last row from buffers laid out [kvH, capacity, hd] (a single sequence's
   * cache, or its part of a batched prompt's present rows) whose first `length` slots it filled.
   */
  addRows(length: number, capacity: number, data: (name: string) => KvData): number {
    if (this.size === this.rows) throw new Error(`BatchCache: all ${this.rows} rows are taken`);
    const b = this.size;
    this.lengths.push(0);
    this.fit(Math.max(length, ...this.lengths) + 1);
    for (const [name, buffer] of this.buffers) copyHeadSlots(data(name), capacity, this.row(buffer, b), this.slots, length, 0, this.kvH, this.hd);
    this.lengths[b] = length;
    return b;
  }

  /** Removes row b; the last row moves into its place (returns that row's old index, or null when b was last). */
  remove(b: number): number | null {
    const last = this.size - 1;
    if (b !== last) {
      const n = this.rowFloats;
      for (const data of this.buffers.values()) data.copyWithin(b * n, last * n, (last + 1) * n);
      this.lengths[b] = this.lengths[last]!;
    }
    this.lengths.pop();
    return b === last ? null : last;
  }

  /** The first `size` rows of each buffer as the graph's past inputs [B, 1, kvH, C, hd], viewed, not copied. */
  feeds(): Record<string, ort.Tensor> {
    const { numKvHeads: kvH, headDim: hd } = this.config;
    const B = this.size;
    const out: Record<string, ort.Tensor> = {};
    for (const [name, data] of this.buffers) out[name] = new ort.Tensor(this.type, data.subarray(0, B * this.rowFloats), [B, 1, kvH, this.slots, hd]);
    return out;
  }

  /** Writes a step's new rows (each cache's block of `present`, [B, kvH, 1, hd]) at each row's next slot. */
  append(present: (name: string) => KvData): void {
    const { kvH, hd } = this;
    for (const [name, data] of this.buffers) {
      const rows = present(name);
      this.lengths.forEach((length, b) => copyHeadSlots(rows.subarray(b * kvH * hd), 1, this.row(data, b), this.slots, 1, length, kvH, hd));
    }
    for (let b = 0; b < this.size; b++) this.lengths[b]!++;
  }
}
