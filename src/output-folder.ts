/**
 * Writing a folder of outputs (a report, an exported dataset) so that it is whole or absent: files
 * go into a temporary sibling folder that is renamed into place at the end. A folder that exists
 * and holds anything is refused unless `replace` allows it (`--force`, or a previous output of the
 * same kind), so nothing a user made is overwritten by accident.
 */
import { accessSync, chmodSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError, oneLineReason } from './errors.ts';

export interface OutputFolderOptions {
  /** `--force`: replace whatever is there. */
  force?: boolean;
  /** Decides whether an existing non-empty folder is a previous output that may be replaced. */
  isPreviousOutput?: (dir: string) => boolean;
  /** Names the option in the refusal, e.g. "report --out". */
  what: string;
}

const reason = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? oneLineReason(err);

/** Throws a one-line UserError when `dir` cannot receive the output; checks only, writes nothing. */
export function checkOutputFolder(dir: string, opts: OutputFolderOptions): void {
  const target = resolve(dir);
  if (hasEntry(target)) {
    if (!existsSync(target) || !statSync(target).isDirectory()) throw new UserError(`${dir}: exists and is not a folder (${opts.what})`);
    const entries = readdirSync(target);
    if (entries.length > 0 && opts.force !== true && opts.isPreviousOutput?.(target) !== true) {
      throw new UserError(`${dir}: folder exists and is not empty (${entries.length} entries); choose another ${opts.what} or pass --force to replace it`);
    }
  }
  const parent = nearestExisting(dirname(target));
  if (!statSync(parent).isDirectory()) throw new UserError(`${dir}: cannot create it, ${parent} is not a folder`);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new UserError(`${dir}: cannot write in ${parent} (${reason(err)})`);
  }
}

/**
 * Whether anything is at `path`, a dangling symbolic link included (existsSync follows links and
 * says no, and the final rename could not replace it).
 */
function hasEntry(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    // ENOTDIR, EACCES: as for existsSync, nothing usable is there; the checks below name the cause.
    return false;
  }
}

function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * Fills a fresh temporary folder next to `dir` with `fill`, then puts it in `dir`'s place. Any
 * failure removes the temporary folder and leaves `dir` as it was.
 */
export async function writeOutputFolder(dir: string, opts: OutputFolderOptions, fill: (tmp: string) => Promise<void> | void): Promise<void> {
  checkOutputFolder(dir, opts);
  const target = resolve(dir);
  let tmp: string;
  try {
    mkdirSync(dirname(target), { recursive: true });
    tmp = mkdtempSync(join(dirname(target), `.${basename(target)}.partial-`));
    // mkdtemp makes the folder private; the output gets the mode any new folder of the user's would.
    chmodSync(tmp, 0o777 & ~process.umask());
  } catch (err) {
    throw new UserError(`${dir}: cannot create it (${reason(err)})`);
  }
  try {
    await fill(tmp);
    if (existsSync(target)) {
      const old = `${tmp}.old`;
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof UserError) throw err;
    throw new UserError(`${dir}: writing failed, nothing changed (${reason(err)})`);
  }
}
