/**
 * What `runStudy` is given, split along its three jobs: what the study evaluates (with the
 * checkpoint's content, this makes its runs' identities), where the results go, and how the work is
 * spread over the machine (none of which changes a stored number). Every field is given: "none" is
 * null or an empty list, never an absent field.
 */
import type { WeightPrecision } from '../../src/model/graph-builder.ts';
import type { ExecutionProvider } from '../../src/model/session.ts';
import type { Variant } from '../../src/model/variants.ts';
import type { Shard } from './shard.ts';
import type { SuiteOverrides } from './suite-overrides.ts';

/** What is evaluated. */
export interface StudyPlan {
  modelDir: string;
  /** Suite names or task YAML paths. */
  suites: string[];
  /** Folders of custom task YAMLs (--include-path), searched for suite names. */
  includePaths: string[];
  /** The folder the suites' dataset files are read from. */
  dataDir: string;
  variants: Variant[];
  /** FlexiDepth's thresholds: flexidepth runs once per threshold, full once, the comparators at each. */
  thresholds: number[];
  /** The weights' precisions, each its own runs (fp32 first when present). */
  precisions: WeightPrecision[];
  /** The quantization block size of int8 and int4. */
  blockSize: number;
  /** The seeded random subset of items per suite; null for every item. */
  limit: number | null;
  seed: number;
  /** Prompt plus generation must fit in this many positions; null: the model's context. Part of the run's identity when set. */
  maxLength: number | null;
  /** --static-layers: static removes this many routed layers; null: FlexiDepth's mean skips. */
  staticLayers: number | null;
  /** --num-fewshot, --max-new-tokens over every suite's config. */
  overrides: SuiteOverrides;
}

/** Where the results go. */
export interface StudyOutput {
  dbPath: string;
  /** --log-samples: every sample stored is also appended to this JSONL file; null: none. */
  logSamplesPath: string | null;
  /** Progress and notes. */
  log: NodeJS.WritableStream;
}

/** How the work is spread over the machine. */
export interface StudyExecution {
  workers: number;
  intraOpThreads: number;
  executionProvider: ExecutionProvider;
  /** Sequences each worker decodes together. */
  batch: number;
  /** --shard: run only this shard's items (shard.ts); recorded in the runs' hardware metadata, not their identity. */
  shard: Shard | null;
}

export interface StudyOptions {
  plan: StudyPlan;
  output: StudyOutput;
  execution: StudyExecution;
}
