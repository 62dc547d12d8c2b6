/**
 * Which operating-system failure stopped a read or write of a study file, so the refusal can say
 * "the disk is full" or "the folder is read-only" instead of calling the file "not a study".
 * DuckDB reports only strerror's text inside its IO Error message; Node's errors carry the errno
 * name as `code`. Both are mapped to the errno name and what it means for the user.
 */
import { UserError, oneLineReason } from '../errors.ts';

export interface IoFailure {
  /** The errno name: ENOSPC, EACCES, ... */
  code: string;
  /** What it means, for the one-line message. */
  meaning: string;
}

/** errno name, strerror text as DuckDB quotes it, and what to tell the user. */
const FAILURES: readonly (readonly [string, RegExp, string])[] = [
  ['ENOSPC', /No space left on device/i, 'the disk is full'],
  ['EDQUOT', /Disk quota exceeded/i, 'the disk quota is used up'],
  ['EFBIG', /File too large/i, 'the file size limit (ulimit -f) is reached'],
  ['EROFS', /Read-only file system/i, 'the file system is read-only'],
  ['EACCES', /Permission denied/i, 'permission denied'],
  ['EPERM', /Operation not permitted/i, 'operation not permitted'],
  ['EIO', /Input\/output error/i, 'the disk reported an input/output error'],
];

/** The failure `err` reports, from a Node errno code or a DuckDB IO Error's text; null for anything else. */
export function ioFailure(err: unknown): IoFailure | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const message = oneLineReason(err);
  for (const [name, text, meaning] of FAILURES) {
    if (code === name || text.test(message)) return { code: name, meaning };
  }
  return null;
}

/** "ENOSPC: the disk is full", for inside parentheses. */
export function describeIoFailure(failure: IoFailure): string {
  return `${failure.code}: ${failure.meaning}`;
}

/** A study file that cannot be read or written for a reason of the file system (permissions, disk full), with its errno. */
export class StudyIoError extends UserError {
  constructor(
    path: string,
    what: string,
    readonly failure: IoFailure,
    hint?: string,
  ) {
    super(`${path}: ${what} (${describeIoFailure(failure)})${hint === undefined ? '' : `; ${hint}`}`);
  }
}

/**
 * The I/O failure behind `err`, for a caller that restates it in its own words: a StudyIoError's
 * own failure, none for any other UserError (already worded for the user), else ioFailure's.
 */
export function ioFailureOf(err: unknown): IoFailure | null {
  if (err instanceof StudyIoError) return err.failure;
  return err instanceof UserError ? null : ioFailure(err);
}
