/** The generations a study still needs, in the order the runner starts them. */
import type { PlannedDoc, PlannedSuite } from './plan.ts';
import { batchKey, graphName } from './protocol.ts';
import type { RunPlan } from './register-runs.ts';

export interface Job {
  run: RunPlan;
  doc: PlannedDoc;
}

/**
 * The docs each run still needs (`doc`): suite by suite, within a suite doc by doc, each run of the
 * suite in turn, so the variants see the machine in the same state and progress evenly. Batched
 * decoding (`batch`) wants long stretches of jobs one batched step can hold together: the runs are
 * grouped by graph and threshold (batchKey), each group suite by suite and run by run, so a
 * worker's batch stays full across suites and drains once per group instead of once per run.
 */
export function jobList(suites: readonly PlannedSuite[], runs: readonly RunPlan[], order: 'doc' | 'batch' = 'doc'): Job[] {
  const pending = (run: RunPlan, doc: PlannedDoc): Job[] => (run.done.has(doc.docId) ? [] : [{ run, doc }]);
  if (order === 'batch') {
    const keyOf = (run: RunPlan): string => batchKey(graphName(run.graph), run.routing);
    return [...new Set(runs.map(keyOf))].flatMap((key) =>
      suites.flatMap((suite) => runs.filter((r) => r.suite === suite && keyOf(r) === key).flatMap((run) => suite.docs.flatMap((doc) => pending(run, doc)))),
    );
  }
  return suites.flatMap((suite) => {
    const suiteRuns = runs.filter((r) => r.suite === suite);
    return suite.docs.flatMap((doc) => suiteRuns.flatMap((run) => pending(run, doc)));
  });
}

/** Samples stored before this invocation. */
export function storedSampleCount(runs: readonly RunPlan[]): number {
  return runs.reduce((n, r) => n + r.done.size, 0);
}
