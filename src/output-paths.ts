/**
 * An output never holds, sits above, or is one of its own command's inputs: `report --out DIR
 * --force` would otherwise replace a folder holding the study it reads, and `--log-samples` naming
 * the study would append JSON to the database. Paths are compared after resolving symbolic links
 * (of the part that exists), and two existing files also by device and inode, so a link or a hard
 * link to an input is caught as the input itself.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from './errors.ts';

export interface NamedPath {
  path: string;
  /** The option that gave it, as the refusal names it ("--db", "report --out"). */
  option: string;
}

/** Links followed before a path counts as a loop (Linux's own limit, ELOOP). */
const MAX_LINKS = 40;

/**
 * `path` with its links resolved, a dangling one included (a link to a study's WAL, which exists
 * only while the study is open, is the WAL); the part that does not exist yet appended as given.
 */
function canonicalPath(path: string, links = 0): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const target = linkTarget(absolute);
    if (target !== null && links < MAX_LINKS) return canonicalPath(resolve(dirname(absolute), target), links + 1);
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(canonicalPath(parent, links), basename(absolute));
  }
}

function linkTarget(path: string): string | null {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : null;
  } catch {
    return null;
  }
}

/** Whether `inner` is `outer` or lies inside it (both canonical). */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The file's identity, or null where nothing can be found (missing, a file in the path, no permission). */
function fileId(path: string): string | null {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st === undefined ? null : `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

function sameFile(a: string, b: string): boolean {
  const id = fileId(a);
  return id !== null && id === fileId(b);
}

/**
 * Refuses, in one line, an output folder that is, holds or lies inside one of `inputs`. Refused
 * with or without --force: replacing the folder would delete the input.
 */
export function refuseFolderOverInputs(output: NamedPath, inputs: readonly NamedPath[]): void {
  const out = canonicalPath(output.path);
  for (const input of inputs) {
    const inp = canonicalPath(input.path);
    if (within(out, inp) || within(inp, out) || sameFile(output.path, input.path)) {
      throw new UserError(
        `${output.path}: ${output.option} ${within(out, inp) ? 'holds' : 'is inside'} ${input.option} ${input.path}, which writing it would destroy; choose a folder elsewhere`,
      );
    }
  }
}

/** Refuses, in one line, an output file that is one of `inputs` or lies inside one of them. */
export function refuseFileOverInputs(output: NamedPath, inputs: readonly NamedPath[]): void {
  const out = canonicalPath(output.path);
  for (const input of inputs) {
    if (within(canonicalPath(input.path), out) || sameFile(output.path, input.path)) {
      throw new UserError(
        `${output.path}: ${output.option} is ${input.option} ${input.path} (or inside it), which writing it would damage; choose another file`,
      );
    }
  }
}

/** A DuckDB study and the write-ahead log DuckDB keeps beside it while it is open. */
export function studyFiles(dbPath: string, option: string): NamedPath[] {
  return [
    { path: dbPath, option },
    { path: `${dbPath}.wal`, option: `${option}'s write-ahead log` },
  ];
}
