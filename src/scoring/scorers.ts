/**
 * The scorers a task config can name in `scorer.name`, each turning one (generation, reference)
 * pair into metrics. Numeric metrics are what reports average; string entries (extracted
 * answers) are there to inspect a sample. The generation must already be cut at its stop strings.
 */
import { scoreCopy } from './copy-match.ts';
import { scoreGsm8k } from './gsm8k.ts';
import { scoreNumber } from './number-match.ts';
import { type RougeType, rougeScores } from './rouge.ts';

export type MetricValue = number | string;
export type Metrics = Record<string, MetricValue>;

export type ScorerName = 'gsm8k' | 'rouge' | 'copy' | 'number';

export interface RougeScorerOptions {
  types: RougeType[];
  stemming: boolean;
}

export interface ScorerConfig {
  name: ScorerName;
  options?: Record<string, unknown>;
}

export interface ScorerInfo {
  /** The numeric metrics the scorer reports, main one first. */
  metrics(options: Record<string, unknown>): string[];
  score(generation: string, reference: string, options: Record<string, unknown>): Metrics;
}

export const SCORERS: Readonly<Record<ScorerName, ScorerInfo>> = {
  gsm8k: {
    metrics: () => ['strict_match', 'flexible_extract'],
    score: (generation, reference) => ({ ...scoreGsm8k(generation, reference) }),
  },
  rouge: {
    metrics: (options) => [...(options as unknown as RougeScorerOptions).types],
    score: (generation, reference, options) => {
      const { types, stemming } = options as unknown as RougeScorerOptions;
      const scores = rougeScores(reference, generation, types, { stemming });
      const out: Metrics = {};
      for (const type of types) out[type] = scores[type]?.fmeasure ?? 0;
      return out;
    },
  },
  copy: {
    metrics: () => ['exact_match', 'edit_similarity'],
    score: (generation, reference) => ({ ...scoreCopy(generation, reference) }),
  },
  number: {
    metrics: () => ['exact_match'],
    score: (generation, reference) => ({ ...scoreNumber(generation, reference) }),
  },
};

export function runScorer(config: ScorerConfig, generation: string, reference: string): Metrics {
  return SCORERS[config.name].score(generation, reference, config.options ?? {});
}

export function scorerMetrics(config: ScorerConfig): string[] {
  return SCORERS[config.name].metrics(config.options ?? {});
}
