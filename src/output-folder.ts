/**
 * Writing a folder of outputs (a report, an exported dataset) so that it is whole or absent: files
 * go into a temporary sibling folder that is renamed into place at the end. A folder that exists
 * and holds anything is refused unless `--force`, or unless it is a previous output of the same
 * command (holdsOnlyOutput), so nothing a user made is overwritten by accident.
 */
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError, oneLineReason } from './errors.ts';
import { openUserFile } from './user-file.ts';
import { counted } from './plural.ts';

export interface OutputFolderOptions {
  /** `--force`: replace whatever is there. */
  force?: boolean;
  /** Decides whether an existing non-empty folder is a previous output that may be replaced. */
  isPreviousOutput?: (dir: string) => boolean;
  /** Names the option in the refusal, e.g. "report --out". */
  what: string;
}

/** How a command recognises a folder it wrote itself, which it may replace without --force. */
export interface OutputSignature {
  /** Every file the command writes, relative to the folder, '/' between components. */
  files: readonly string[];
  /**
   * A file of `files` whose first `headBytes` bytes hold `text`: what tells the command's output
   * from a folder that merely has files of the same names.
   */
  marker: { file: string; text: string; headBytes: number };
}

/** The marker file, whatever its size: only its head is read. */
const MARKER_FILE = { what: 'previous output', maxBytes: Number.MAX_SAFE_INTEGER };

/** The folders on the way to `files`: 'a/b/c.json' gives 'a' and 'a/b'. */
function foldersOf(files: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const parts = file.split('/');
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return out;
}

/**
 * Whether `dir` holds nothing but files of `signature`, its marker among them: a previous output of
 * the command (a file deleted from it by hand included), which replacing loses nothing of the
 * user's. Any other entry, a link or a FIFO where a file of `files` belongs included, makes it a
 * folder the user owns.
 */
export function holdsOnlyOutput(dir: string, signature: OutputSignature): boolean {
  const folders = foldersOf(signature.files);
  const only = (rel: string): boolean =>
    readdirSync(rel === '' ? dir : join(dir, rel)).every((name) => {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, path));
      if (st.isDirectory()) return folders.has(path) && only(path);
      return st.isFile() && signature.files.includes(path);
    });
  const { file, text, headBytes } = signature.marker;
  try {
    if (!only('') || !existsSync(join(dir, file))) return false;
    // Only the head is read, through the checks every user file gets.
    const { fd } = openUserFile(join(dir, file), MARKER_FILE);
    try {
      const head = Buffer.alloc(headBytes);
      return head
        .subarray(0, readSync(fd, head, 0, head.length, 0))
        .toString('utf8')
        .includes(text);
    } finally {
      closeSync(fd);
    }
  } catch {
    // A part that cannot be read cannot be told from the user's own: the refusal stands, --force replaces it.
    return false;
  }
}

const reason = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? oneLineReason(err);

/** Throws a one-line UserError when `dir` cannot receive the output; checks only, writes nothing. */
export function checkOutputFolder(dir: string, opts: OutputFolderOptions): void {
  const target = resolve(dir);
  if (hasEntry(target)) {
    if (!existsSync(target) || !statSync(target).isDirectory()) throw new UserError(`${dir}: exists and is not a folder (${opts.what})`);
    const entries = readdirSync(target);
    if (entries.length > 0 && opts.force !== true && opts.isPreviousOutput?.(target) !== true) {
      throw new UserError(
        `${dir}: folder exists and is not empty (${counted(entries.length, 'entry', 'entries')}); choose another ${opts.what} or pass --force to replace it`,
      );
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
