/**
 * The scorers a task config can name in `scorer.name`, each turning one (generation, reference)
 * pair into metrics. Numeric metrics are what reports average; string entries (extracted
 * answers) are there to inspect a sample. The generation must already be cut at its stop strings.
 */
import { type Static, Type } from '@sinclair/typebox';
import { enumOf, taggedUnion } from '../config-validation.ts';
import { scoreCopy } from './copy-match.ts';
import { scoreGsm8k } from './gsm8k.ts';
import { scoreNumber } from './number-match.ts';
import { rougeScores } from './rouge.ts';

export type MetricValue = number | string;
export type Metrics = Record<string, MetricValue>;

const closed = { additionalProperties: false } as const;
const noOptions = Type.Optional(Type.Object({}, closed));

/** A task config's `scorer` field: which scorer, with that scorer's options. */
export const ScorerConfig = taggedUnion('name', [
  Type.Object({ name: Type.Literal('gsm8k'), options: noOptions }, closed),
  Type.Object(
    {
      name: Type.Literal('rouge'),
      options: Type.Object(
        {
          types: Type.Array(enumOf(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']), { minItems: 1, uniqueItems: true }),
          stemming: Type.Boolean(),
        },
        closed,
      ),
    },
    closed,
  ),
  Type.Object({ name: Type.Literal('copy'), options: noOptions }, closed),
  Type.Object({ name: Type.Literal('number'), options: noOptions }, closed),
]);
export type ScorerConfig = Static<typeof ScorerConfig>;

/** A scorer with its options applied. */
interface Scorer {
  /** The numeric metrics it reports, main one first. */
  metrics: string[];
  score(generation: string, reference: string): Metrics;
}

function scorerFor(config: ScorerConfig): Scorer {
  switch (config.name) {
    case 'gsm8k':
      return { metrics: ['strict_match', 'flexible_extract'], score: (generation, reference) => ({ ...scoreGsm8k(generation, reference) }) };
    case 'rouge': {
      const { types, stemming } = config.options;
      return {
        metrics: [...types],
        score: (generation, reference) => {
          const scores = rougeScores(reference, generation, types, { stemming });
          return Object.fromEntries(types.map((type) => [type, scores[type]?.fmeasure ?? 0]));
        },
      };
    }
    case 'copy':
      return { metrics: ['exact_match', 'edit_similarity'], score: (generation, reference) => ({ ...scoreCopy(generation, reference) }) };
    case 'number':
      return { metrics: ['exact_match'], score: (generation, reference) => ({ ...scoreNumber(generation, reference) }) };
  }
}

export function runScorer(config: ScorerConfig, generation: string, reference: string): Metrics {
  return scorerFor(config).score(generation, reference);
}

export function scorerMetrics(config: ScorerConfig): string[] {
  return scorerFor(config).metrics;
}
