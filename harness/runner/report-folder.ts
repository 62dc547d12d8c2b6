/**
 * `run` writes its study's report into a folder beside the study, replacing a previous report
 * there. It has no --out and no --force, so a folder that holds anything else (or a file in its
 * place) is refused before the study runs, with advice that `run` can follow: the generic refusal
 * of src/output-folder.ts suggests --force, and would come only after the whole run. Whether the
 * folder beside the study can be written is the study's own check (src/store/database-file.ts).
 */
import { readdirSync, statSync, type Stats } from 'node:fs';
import { UserError } from '../../src/errors.ts';
import { isPreviousReport } from '../../reports/write-report.ts';

const BESIDE = 'move it aside, give another --db (the report goes beside it) or --report-dir DIR';
const GIVEN = 'move it aside or give another --report-dir';
const ELSEWHERE = '`flexibench report --db FILE --out DIR` writes a report elsewhere';

/**
 * Throws a one-line UserError when `run` could not put its report at `dir` (`option`: the option
 * that named it, null for the folder beside the study); checks only, writes nothing.
 */
export function checkRunReportFolder(dir: string, option: string | null = null): void {
  const advice = `${option === null ? BESIDE : GIVEN}; ${ELSEWHERE}`;
  const stat = statOrNull(dir);
  if (stat === null) return;
  if (!stat.isDirectory()) throw new UserError(`${dir}: run writes the study's report into a folder here, but something else is in its place; ${advice}`);
  const entries = readdirSync(dir).length;
  if (entries > 0 && !isPreviousReport(dir)) {
    throw new UserError(
      `${dir}: run writes the study's report into this folder, which holds something other than a previous report (${entries} ${entries === 1 ? 'entry' : 'entries'}); ${advice}`,
    );
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    // ENOTDIR, EACCES: the study's own checks name the cause.
    return null;
  }
}
