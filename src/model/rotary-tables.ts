/**
 * The rotary cos/sin tables [P, hd/2] the decoder graph reads (its inputs cos_cache and sin_cache),
 * computed in float64 from the (possibly Llama-3-scaled) inverse frequencies and rounded once to
 * float32. They are fed rather than stored in the graph so that their size follows the positions a
 * session reaches, not max_position_embeddings: Llama-3.1 declares 131,072 positions and a config
 * may declare millions, while a run uses a few thousand. ORT's RotaryEmbedding reads a row per
 * position id with no bounds check, so every feed covers the positions it goes with.
 */
import * as ort from 'onnxruntime-node';
import { ropeInverseFrequencies, type ModelConfig } from './config.ts';

/** The first table's rows: enough for most prompts, so short runs compute it once. */
const FIRST_ROWS = 256;

export class RotaryTables {
  private rows = 0;
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private tensors: Record<string, ort.Tensor> = {};
  private readonly inv: Float64Array;
  private readonly half: number;

  constructor(private readonly config: ModelConfig) {
    this.inv = ropeInverseFrequencies(config);
    this.half = config.headDim / 2;
  }

  /** The graph's cos_cache and sin_cache feeds, covering positions 0..positions-1. */
  feeds(positions: number): Record<string, ort.Tensor> {
    if (positions > this.rows) this.grow(positions);
    return this.tensors;
  }

  /** Doubles until `needed` fits (capped at the model's positions, never below `needed`): a long generation regrows a few times, not every step. */
  private grow(needed: number): void {
    const { half, inv } = this;
    let doubled = Math.max(FIRST_ROWS, this.rows);
    while (doubled < needed) doubled *= 2;
    const rows = Math.max(needed, Math.min(this.config.maxPositionEmbeddings, doubled));
    const cos = new Float32Array(rows * half);
    const sin = new Float32Array(rows * half);
    cos.set(this.cos);
    sin.set(this.sin);
    for (let pos = this.rows; pos < rows; pos++) {
      for (let j = 0; j < half; j++) {
        cos[pos * half + j] = Math.cos(pos * inv[j]!);
        sin[pos * half + j] = Math.sin(pos * inv[j]!);
      }
    }
    this.rows = rows;
    this.cos = cos;
    this.sin = sin;
    this.tensors = { cos_cache: new ort.Tensor('float32', cos, [rows, half]), sin_cache: new ort.Tensor('float32', sin, [rows, half]) };
  }
}
