/** The generations a study still needs, in the order the runner starts them. */
import type { PlannedDoc, PlannedSuite } from './plan.ts';
import type { RunPlan } from './register-runs.ts';

export interface Job {
  run: RunPlan;
  doc: PlannedDoc;
}

/**
 * Suite by suite, doc by doc, each run of the suite in turn, leaving out docs a run already has.
 * Interleaving variants per doc makes them see the machine in the same state, and keeps progress even.
 */
export function jobList(suites: readonly PlannedSuite[], runs: readonly RunPlan[]): Job[] {
  const jobs: Job[] = [];
  for (const suite of suites) {
    const suiteRuns = runs.filter((r) => r.suite === suite);
    for (const doc of suite.docs) {
      for (const run of suiteRuns) if (!run.done.has(doc.docId)) jobs.push({ run, doc });
    }
  }
  return jobs;
}

/** Samples stored before this invocation. */
export function storedSampleCount(runs: readonly RunPlan[]): number {
  return runs.reduce((n, r) => n + r.done.size, 0);
}
