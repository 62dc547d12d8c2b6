/**
 * The suites' public interface for the runner and the command line.
 */
export { listSuites, loadTaskSpec, itemFields, type TaskSpec, type GenerationSettings, type Sampling, type DatasetSource, type GeneratorSource } from './spec.ts';
export { expandSuite, type Doc, type ExpandOptions } from './expand.ts';
export { renderTarget, type ChatMessage, type Prompt } from './render.ts';
export { scoreSample, suiteMetrics } from './score-sample.ts';
export { selectSubset } from './subset.ts';
export { pairedBootstrap, bootstrapMean, type PairedBootstrap, type Estimate, type BootstrapOptions } from '../scoring/bootstrap.ts';
export type { Metrics, MetricValue } from '../scoring/scorers.ts';
export { fnv1a32, isEvaluationPair, isEvaluationSequence, MIN_EVALUATION_SEED } from '../../datasets/generators/holdout.ts';
export { resolveDataDir } from '../../datasets/data-dir.ts';
