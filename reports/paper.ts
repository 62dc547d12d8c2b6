/**
 * The paper's layer-allocation table (docs/method.md, "Layer-allocation findings to reproduce":
 * Llama-3-8B-Instruct, 32 layers) beside ours, and its claims checked with intervals: the orderings
 * between tasks, the equation claim (result digits over operand digits) and the bowl (bowl.ts).
 * Ours is pooled over generated tokens at the producing position, per FlexiDepth series (study,
 * model, threshold, weight precision); summarization pools our two summarization suites.
 */
import { bootstrapRatio, bootstrapRatioDifference, type Clusters, type Estimate } from '../src/scoring/bootstrap.ts';
import type { SampleDepth, StoredRun } from '../src/store/summary-reads.ts';
import { bowlCheck, type BowlCheck } from './bowl.ts';
import { ARITHMETIC_SUITES, digitDepthClusters } from './patterns.ts';
import type { BootstrapSettings, LabeledStudy } from './summary.ts';
import { depthClusters } from './summary.ts';
import { signed, verdictOf, type Verdict } from './verdict.ts';

export const PAPER_MODEL = 'Llama-3-8B-Instruct';
export const PAPER_LAYERS_TOTAL = 32;

export interface PaperTask {
  family: 'language' | 'math';
  task: string;
  /** Our suites that measure it. */
  suites: readonly string[];
  /** Layers used per generated token, of PAPER_LAYERS_TOTAL. */
  paper: number;
}

export const PAPER_TASKS: readonly PaperTask[] = [
  { family: 'language', task: 'copy', suites: ['copy'], paper: 21.95 },
  { family: 'language', task: 'summarization', suites: ['xsum', 'cnndm'], paper: 28.65 },
  { family: 'language', task: 'continue-writing', suites: ['continue-writing'], paper: 30.27 },
  { family: 'math', task: 'repetition', suites: ['repetition'], paper: 20.09 },
  { family: 'math', task: 'addition', suites: ['addition'], paper: 22.45 },
  { family: 'math', task: 'product', suites: ['product'], paper: 23.9 },
];

/** The paper's orderings: the first task uses fewer layers than the second. */
export const PAPER_ORDERINGS: readonly (readonly [string, string])[] = [
  ['copy', 'summarization'],
  ['summarization', 'continue-writing'],
  ['repetition', 'addition'],
  ['addition', 'product'],
];

export interface PaperRow {
  family: string;
  task: string;
  suites: string[];
  paper_layers: number;
  paper_share: number;
  /** null when this series has no generated tokens for the task's suites. */
  ours: (Estimate & { share: number; samples: number }) | null;
}

export interface OrderingCheck {
  fewer: string;
  more: string;
  /** Layers used by `more` minus `fewer`, ours, with a cluster-bootstrap interval. */
  difference: Estimate | null;
  paper_difference: number;
  verdict: Verdict;
  /** The check in words, e.g. "copy < summarization holds: +1.20 layers [0.85, 1.54]". */
  text: string;
}

export interface PaperComparison {
  series: string;
  study: string;
  model_hash: string;
  threshold: number;
  /** The series' weight precision ('fp32' for studies written before precisions). */
  precision: string;
  block_size: number | null;
  layers_total: number;
  rows: PaperRow[];
  orderings: OrderingCheck[];
  /** The bowl over all of the series' generated tokens (bowl.ts). */
  bowl: BowlCheck;
  /** The bowl per suite of the series. */
  bowl_by_suite: { suite: string; check: BowlCheck }[];
  /** Result digits against the operand digits of the arithmetic suites (DIGITS_CLAIM). */
  digits: ClaimCheck;
}

/** A claim the paper states without a number of its own. */
export type ClaimCheck = Omit<OrderingCheck, 'paper_difference'>;

/** The paper's equation claim: result digits (right-hand side) use more layers than the left-hand side. */
export const DIGITS_CLAIM = { fewer: 'operand digits', more: 'result digits' } as const;

export function orderingText(fewer: string, more: string, d: Estimate | null, verdict: Verdict): string {
  const claim = `${fewer} < ${more}`;
  if (d === null) return `${claim}: not measured (a suite has no FlexiDepth tokens)`;
  const numbers = `${signed(d.mean)} layers [${d.ci95[0].toFixed(2)}, ${d.ci95[1].toFixed(2)}]`;
  if (verdict === 'holds') return `${claim} holds: ${numbers}`;
  if (verdict === 'reversed') return `${claim} does not hold, it is reversed: ${numbers}`;
  return `${claim} does not hold clearly: ${numbers}, the interval includes 0`;
}

/** The equation claim over the arithmetic runs' documents, operand and result digits each resampled on their own. */
function digitsCheck(runs: readonly { operands: Clusters; answer: Clusters }[], boot: BootstrapSettings): ClaimCheck {
  const weighed = (c: Clusters | null): Clusters | null => (c !== null && c.den.some((d) => d > 0) ? c : null);
  const operands = weighed(pool(runs.map((r) => r.operands)));
  const answer = weighed(pool(runs.map((r) => r.answer)));
  const difference = operands === null || answer === null ? null : bootstrapRatioDifference(operands, answer, boot);
  const verdict = verdictOf(difference);
  const { fewer, more } = DIGITS_CLAIM;
  const text =
    difference === null
      ? `${fewer} < ${more}: not measured (no FlexiDepth run of ${ARITHMETIC_SUITES.join(' or ')} with digits on both sides)`
      : orderingText(fewer, more, difference, verdict);
  return { fewer, more, difference, verdict, text };
}

function pool(parts: Clusters[]): Clusters | null {
  const num = parts.flatMap((c) => [...c.num]);
  const den = parts.flatMap((c) => [...c.den]);
  return den.length === 0 ? null : { num, den };
}

/**
 * One comparison per FlexiDepth series: the runs of one study, model, threshold and precision.
 * `seriesOf` names a run's series as the rest of the report does.
 */
export function paperComparisons(
  studies: readonly LabeledStudy[],
  seriesOf: (study: string, runId: string) => string,
  boot: BootstrapSettings,
): PaperComparison[] {
  const out: PaperComparison[] = [];
  for (const study of studies) {
    type Group = Pick<StoredRun, 'threshold' | 'precision' | 'block_size' | 'model_hash' | 'layers_total' | 'routing_layers'> & {
      runs: { run_id: string; suite: string; samples: SampleDepth[] }[];
    };
    const layerUse = study.patterns.layerUse;
    const groups = new Map<string, Group>();
    for (const run of study.inputs.runs.filter((r) => r.variant === 'flexidepth')) {
      const series = seriesOf(study.label, run.run_id);
      const g = groups.get(series) ?? {
        threshold: run.threshold,
        precision: run.precision,
        block_size: run.block_size,
        model_hash: run.model_hash,
        layers_total: run.layers_total,
        routing_layers: run.routing_layers,
        runs: [],
      };
      g.runs.push({ run_id: run.run_id, suite: run.suite, samples: (study.inputs.depth.get(run.run_id) ?? []).filter((s) => s.generated > 0) });
      groups.set(series, g);
    }
    for (const [series, g] of groups) {
      const clusters = new Map<string, Clusters | null>();
      for (const task of PAPER_TASKS) {
        clusters.set(task.task, pool(g.runs.filter((r) => task.suites.includes(r.suite)).map((r) => depthClusters(r.samples))));
      }
      const rows = PAPER_TASKS.map((task): PaperRow => {
        const c = clusters.get(task.task) ?? null;
        const est = c === null ? null : bootstrapRatio(c, boot);
        return {
          family: task.family,
          task: task.task,
          suites: [...task.suites],
          paper_layers: task.paper,
          paper_share: task.paper / PAPER_LAYERS_TOTAL,
          ours: est === null || c === null ? null : { ...est, share: est.mean / g.layers_total, samples: c.num.length },
        };
      });
      const orderings = PAPER_ORDERINGS.map(([fewer, more]): OrderingCheck => {
        const a = clusters.get(fewer) ?? null;
        const b = clusters.get(more) ?? null;
        const difference = a === null || b === null ? null : bootstrapRatioDifference(a, b, boot);
        const verdict = verdictOf(difference);
        const paperOf = (t: string): number => (PAPER_TASKS.find((p) => p.task === t) as PaperTask).paper;
        return { fewer, more, difference, paper_difference: paperOf(more) - paperOf(fewer), verdict, text: orderingText(fewer, more, difference, verdict) };
      });
      const routed = g.routing_layers.length;
      out.push({
        series,
        study: study.label,
        model_hash: g.model_hash,
        threshold: g.threshold,
        precision: g.precision,
        block_size: g.block_size,
        layers_total: g.layers_total,
        rows,
        orderings,
        bowl: bowlCheck(
          g.runs.flatMap((r) => layerUse.get(r.run_id) ?? []),
          routed,
          boot,
        ),
        bowl_by_suite: g.runs.map((r) => ({ suite: r.suite, check: bowlCheck(layerUse.get(r.run_id) ?? [], routed, boot) })),
        digits: digitsCheck(
          g.runs.filter((r) => (ARITHMETIC_SUITES as readonly string[]).includes(r.suite)).map((r) => digitDepthClusters(study.patterns, r.run_id)),
          boot,
        ),
      });
    }
  }
  return out;
}
