/**
 * Scoring one generation for a suite: cut at the suite's stop strings (as lm-evaluation-harness
 * does during generation; a no-op on text the runner already cut), then the suite's scorer.
 */
import { type Metrics, runScorer, scorerMetrics } from '../../src/scoring/scorers.ts';
import { cutAtStop } from '../../src/stop-strings.ts';
import type { TaskSpec } from './spec.ts';

export function scoreSample(spec: TaskSpec, prediction: string, reference: string): Metrics {
  return runScorer(spec.scorer, cutAtStop(prediction, spec.generation.stop), reference);
}

/** The numeric metrics scoreSample reports for the suite, main one first. */
export function suiteMetrics(spec: TaskSpec): string[] {
  return scorerMetrics(spec.scorer);
}
