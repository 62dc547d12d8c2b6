/** The generations a study still needs, in the order the runner starts them. */
import type { PlannedDoc, PlannedSuite } from './plan.ts';
import type { RunPlan } from './register-runs.ts';

export interface Job {
  run: RunPlan;
  doc: PlannedDoc;
}

/**
 * Suite by suite, leaving out docs a run already has; within a suite doc by doc, each run of the
 * suite in turn (`doc`), or run by run (`run`). Interleaving variants per doc makes them see the
 * machine in the same state, and keeps progress even; batched decoding wants consecutive jobs of
 * one run, which share a graph and a threshold.
 */
export function jobList(suites: readonly PlannedSuite[], runs: readonly RunPlan[], order: 'doc' | 'run' = 'doc'): Job[] {
  const jobs: Job[] = [];
  for (const suite of suites) {
    const suiteRuns = runs.filter((r) => r.suite === suite);
    const pending = (run: RunPlan, doc: PlannedDoc): Job[] => (run.done.has(doc.docId) ? [] : [{ run, doc }]);
    if (order === 'run') for (const run of suiteRuns) jobs.push(...suite.docs.flatMap((doc) => pending(run, doc)));
    else for (const doc of suite.docs) jobs.push(...suiteRuns.flatMap((run) => pending(run, doc)));
  }
  return jobs;
}

/** Samples stored before this invocation. */
export function storedSampleCount(runs: readonly RunPlan[]): number {
  return runs.reduce((n, r) => n + r.done.size, 0);
}
