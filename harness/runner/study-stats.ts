/** What a study invocation did, for the line `run` ends with. */
import type { ExecutionTotals } from './execute-jobs.ts';

export interface StudyStats {
  samplesWritten: number;
  samplesSkipped: number;
  samplesFailed: number;
  wallMs: number;
  /** Time inside session.run, summed over workers. */
  sessionRunMs: number;
  /** Share of worker time not spent inside session.run: harness overhead. */
  overheadShare: number;
}

export interface StudyTimes {
  /** From the pool's start (graph building and session creation are one-off costs, left out) to the last write. */
  wallMs: number;
  /** Workers the pool ran; 0 when nothing needed generating. */
  workers: number;
}

export const NOTHING_EXECUTED: ExecutionTotals = { samplesWritten: 0, samplesFailed: 0, sessionRunMs: 0 };

export function studyStats(totals: ExecutionTotals, samplesSkipped: number, times: StudyTimes): StudyStats {
  const workerMs = times.wallMs * Math.max(1, times.workers);
  return {
    ...totals,
    samplesSkipped,
    wallMs: times.wallMs,
    overheadShare: times.workers > 0 && workerMs > 0 ? 1 - totals.sessionRunMs / workerMs : 0,
  };
}
