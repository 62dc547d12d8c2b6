/**
 * Reads a dataset file from the data directory after checking its sha256 against the manifest.
 * A missing or altered file fails with one line that says how to get a good copy.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../src/errors.ts';
import { FILE_KINDS, openUserFile, readFully } from '../src/user-file.ts';
import { type DatasetFile, loadManifest, manifestFile } from './manifest.ts';

const HOW_TO_GET = "run 'flexibench data pull' or set FLEXIBENCH_DATA_DIR to a mirror";

/** Files already hashed in this process, keyed by path, size and mtime, so suites can share them. */
const verified = new Map<string, string>();

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes of `file` in `dataDir`, verified; `label` names it in errors (e.g. gsm8k/test.jsonl). */
export function readVerified(dataDir: string, file: DatasetFile): Buffer {
  const full = path.join(dataDir, file.path);
  const kind = FILE_KINDS.datasetFile;
  // Checked as a regular file within its limit before it is read and hashed: a data folder where
  // a split became /dev/zero, a FIFO or a runaway file is refused in one line.
  let opened;
  try {
    opened = openUserFile(full, kind);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    if (/\((ENOENT|ENOTDIR)\)$/.test(err.message)) throw new UserError(`datasets: ${file.path} not found in ${dataDir} — ${HOW_TO_GET}`);
    throw new UserError(`${err.message} — ${HOW_TO_GET}`);
  }
  // The cache key and the bytes come from the same open file.
  let key: string;
  let bytes: Buffer;
  try {
    key = `${full}\0${opened.size}\0${fstatSync(opened.fd).mtimeMs}`;
    bytes = readFully(opened.fd, full, Buffer.allocUnsafe(opened.size), 0);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${full}: cannot read the ${kind.what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  } finally {
    closeSync(opened.fd);
  }
  if (verified.get(key) !== file.sha256) {
    const actual = sha256Hex(bytes);
    if (actual !== file.sha256) {
      throw new UserError(
        `datasets: ${file.path} in ${dataDir} has sha256 ${actual.slice(0, 12)}…, expected ${file.sha256.slice(0, 12)}… (corrupt or a different version) — ${HOW_TO_GET}`,
      );
    }
    verified.set(key, file.sha256);
  }
  return bytes;
}

export type Row = Record<string, unknown>;

/** Rows of a JSONL split of a dataset, verified. */
export function loadRows(dataset: string, split: string, dataDir: string): Row[] {
  const file = manifestFile(loadManifest(dataset), split);
  if (file.format !== 'jsonl') throw new UserError(`datasets: ${file.path} is ${file.format}, not jsonl`);
  const text = readVerified(dataDir, file).toString('utf8');
  const rows: Row[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    rows.push(JSON.parse(line) as Row);
  }
  return rows;
}

/** A text file of a dataset (a corpus), verified. */
export function loadText(dataset: string, key: string, dataDir: string): string {
  const file = manifestFile(loadManifest(dataset), key);
  return readVerified(dataDir, file).toString('utf8');
}
