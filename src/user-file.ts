/**
 * Reading the files a user points flexibench at (configs, checkpoints, tokenizers, task YAMLs,
 * dataset files): each is checked before it is read, as a regular file no larger than its kind
 * allows, so /dev/zero, a FIFO or a runaway file is refused in one line instead of being read into
 * memory. Failures are one-line UserErrors that name the file.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from './errors.ts';

/** A kind of input file and the most bytes flexibench reads of it; docs/usage.md, "Limits on input", lists them. */
export interface FileKind {
  /** What the file is, as the refusal names it ("model config"). */
  readonly what: string;
  readonly maxBytes: number;
}

const MiB = 1024 * 1024;

/**
 * The limits, each well above the largest real file of its kind (Llama-3's tokenizer.json is 9 MB,
 * the largest shipped dataset split 5 MB) and far below what would strain memory.
 */
export const FILE_KINDS = {
  modelConfig: { what: 'model config', maxBytes: 1 * MiB },
  tokenizer: { what: 'tokenizer', maxBytes: 64 * MiB },
  tokenizerConfig: { what: 'tokenizer config', maxBytes: 16 * MiB },
  safetensorsIndex: { what: 'safetensors index', maxBytes: 64 * MiB },
  taskConfig: { what: 'task config', maxBytes: 1 * MiB },
  datasetManifest: { what: 'dataset manifest', maxBytes: 1 * MiB },
  datasetFile: { what: 'dataset file', maxBytes: 512 * MiB },
  llama2cTokenizer: { what: 'llama2.c tokenizer', maxBytes: 64 * MiB },
  // Node's Buffer holds at most 4 GiB; a larger llama2.c checkpoint would need a streaming import.
  llama2cCheckpoint: { what: 'llama2.c checkpoint', maxBytes: 4 * 1024 * MiB - 1 },
  // Read tensor by tensor, never whole: the limit only keeps a runaway file out (Llama-3-70B's largest shard is 5 GB).
  safetensors: { what: 'safetensors file', maxBytes: 1024 * 1024 * MiB },
  // `score` holds every checked line until all are checked (a bad line prints nothing), so this bounds its memory.
  scoreInput: { what: 'score input', maxBytes: 64 * MiB },
} as const satisfies Record<string, FileKind>;

const errnoCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);

/** A limit, as its kind states it. */
export function formatLimit(n: number): string {
  return n >= MiB && n % MiB === 0 ? `${n / MiB} MiB` : `${n} bytes`;
}

/**
 * Opens `path` and checks it is a regular file of at most `maxBytes` (`kind`'s limit unless given):
 * the open descriptor, for the caller to read and close. Checked on the descriptor, so what was
 * checked is what gets read.
 */
export function openUserFile(path: string, kind: FileKind, maxBytes: number = kind.maxBytes): { fd: number; size: number } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new UserError(`${path}: cannot read the ${kind.what} (${errnoCode(err)})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UserError(`${path}: the ${kind.what} must be a regular file, not ${fileType(stat)}`);
    if (stat.size > maxBytes) throw new UserError(`${path}: the ${kind.what} is ${stat.size} bytes, more than the ${formatLimit(maxBytes)} allowed`);
    return { fd, size: stat.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function fileType(stat: import('node:fs').Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'a special file';
}

/** The whole file, checked first (openUserFile); a file that grows while read is cut at its limit and refused. */
export function readUserFile(path: string, kind: FileKind, maxBytes: number = kind.maxBytes): Buffer {
  const { fd, size } = openUserFile(path, kind, maxBytes);
  try {
    // One byte past the size seen: a file that grew since fstat shows it here and is refused.
    const buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got === buf.length) {
        if (got > maxBytes) throw new UserError(`${path}: the ${kind.what} grew past the ${formatLimit(maxBytes)} allowed while being read`);
        break;
      }
    }
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read the ${kind.what} (${errnoCode(err)})`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Fills `into` from byte `position` of `path`, open as `fd` (openUserFile): a file that ends first
 * shrank since it was checked, and is refused.
 */
export function readFully<T extends Uint8Array>(fd: number, path: string, into: T, position: number): T {
  for (let got = 0; got < into.length; ) {
    const n = readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) throw new UserError(`${path}: file ends early (it shrank while being read)`);
    got += n;
  }
  return into;
}

/** A JSON file whose top level must be an object. */
export function readJsonObject(path: string, kind: FileKind): Record<string, unknown> {
  const json = parseJsonText(readUserFile(path, kind).toString('utf8'), path);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${path}: expected a JSON object, got ${jsonType(json)}`);
  return json as Record<string, unknown>;
}

/** JSON.parse with the failure as a one-line UserError naming `where` (a file, or file:line). */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8 names the position. Its parser does not recurse, so deep nesting parses: quoting such a value is what overflows (quote-value.ts).
    const why = (err as Error).message;
    throw new UserError(`${where}: not valid JSON (${why.split('\n')[0] ?? why})`);
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}
