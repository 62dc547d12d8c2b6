/**
 * What a comparator run (`static`, `random`; docs/method.md, "Comparators") was matched to and how it
 * routes, stored as JSON in `runs.comparator` (schema version 3) and read back by reports.
 */

/** ShortGPT-style removal: the routed layers of least Block Influence, skipped by every token (no adapter). */
export interface StaticComparator {
  kind: 'static';
  /** The FlexiDepth threshold whose budget the run matches (also the run's `threshold`). */
  matched_threshold: number;
  /** Mean routed layers FlexiDepth skipped per generated token at that threshold, over the study's suites; null with --static-layers. */
  flexidepth_skips_mean: number | null;
  /** Ascending layer indices. */
  removed_layers: number[];
  /** Every routed layer's Block Influence (1 − mean cosine similarity of its input and output hidden states), the ranking. */
  block_influence: { layer: number; value: number }[];
  /** The held-out text the Block Influence was averaged over. */
  calibration: { source: string; windows: number; tokens: number };
}

/** Each routed decision a seeded draw at the rate FlexiDepth ran that layer on the same suite and threshold. */
export interface RandomComparator {
  kind: 'random';
  matched_threshold: number;
  /** The FlexiDepth run the rates were measured on. */
  matched_run_id: string;
  /** Seeds the draws with each document's id (src/model/routing.ts, documentSeed). */
  seed: number;
  /**
   * Per routed layer (layer order), the share of positions on which FlexiDepth ran the full path:
   * `producing` over the positions whose pass predicts a generated token (the last prompt position
   * and the generated ones: what "layers used" counts), `prompt` over the rest of the prompt.
   */
  rates: { prompt: number[]; producing: number[] };
}

export type RunComparator = StaticComparator | RandomComparator;
