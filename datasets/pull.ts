/**
 * `flexibench data pull`: downloads each manifest file from its canonical source into the data
 * directory, derives the stored form where the manifest names a transform, and keeps it only if
 * its sha256 matches the manifest (written to a temporary name, then renamed, so an interrupted
 * pull never leaves a half file behind).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../src/errors.ts';
import { type DatasetFile, loadManifest } from './manifest.ts';
import { readVerified, sha256Hex } from './load.ts';

export type Fetch = (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface PullOptions {
  dataDir: string;
  /** Replaced in tests; the global fetch otherwise. */
  fetch?: Fetch;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export type PullOutcome = 'present' | 'downloaded' | 'no-source';

/** Python's `json.dumps(value)` with default settings: ", " and ": " separators, non-ASCII as \uXXXX. */
export function pythonJsonDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Spec-Bench's question.jsonl holds every category; the stored file keeps "summarization" as
 * {id, prompt, summary}. Unverified against the live source (no network here): a sha256 mismatch
 * after this transform is reported as such.
 */
function specBenchSummarization(raw: Buffer): Buffer {
  const out: string[] = [];
  for (const line of raw.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as Record<string, unknown>;
    if (row.category !== 'summarization') continue;
    const turns = row.turns as unknown;
    const reference = (row.reference ?? row.references ?? row.summary) as unknown;
    const prompt = Array.isArray(turns) ? turns[0] : turns;
    const summary = Array.isArray(reference) ? reference[0] : reference;
    if (typeof prompt !== 'string' || typeof summary !== 'string') {
      throw new UserError('datasets: Spec-Bench question.jsonl has an unexpected shape; copy cnndm/spec-bench-summarization.jsonl from a mirror');
    }
    out.push(pythonJsonDumps({ id: String(row.question_id ?? row.id), prompt, summary }));
  }
  return Buffer.from(out.map((l) => `${l}\n`).join(''), 'utf8');
}

async function pullFile(dataset: string, file: DatasetFile, options: PullOptions): Promise<PullOutcome> {
  const { dataDir } = options;
  const log = options.log ?? (() => {});
  const target = path.join(dataDir, file.path);
  if (existsSync(target)) {
    try {
      readVerified(dataDir, file);
      log(`${file.path}: present, sha256 ok`);
      return 'present';
    } catch {
      log(`${file.path}: present but sha256 differs, downloading again`);
    }
  }
  if (file.url === null) {
    log(`${file.path}: no single-file source (see datasets/manifests/${dataset}.yaml); copy it from a mirror`);
    return 'no-source';
  }
  const fetchImpl: Fetch = options.fetch ?? ((url) => fetch(url));
  log(`${file.path}: downloading ${file.url}`);
  let response;
  try {
    response = await fetchImpl(file.url);
  } catch (err) {
    throw new UserError(`datasets: cannot download ${file.url}: ${(err as Error).message} — set FLEXIBENCH_DATA_DIR to a mirror instead`);
  }
  if (!response.ok) throw new UserError(`datasets: ${file.url} answered HTTP ${response.status}`);
  let bytes: Buffer = Buffer.from(await response.arrayBuffer());
  if (file.transform === 'spec-bench-summarization') bytes = specBenchSummarization(bytes);
  const actual = sha256Hex(bytes);
  if (actual !== file.sha256) {
    throw new UserError(
      `datasets: ${file.path} from ${file.url} has sha256 ${actual.slice(0, 12)}…, expected ${file.sha256.slice(0, 12)}… (the source changed?) — copy it from a mirror`,
    );
  }
  mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  try {
    writeFileSync(partial, bytes);
    renameSync(partial, target);
  } finally {
    rmSync(partial, { force: true });
  }
  log(`${file.path}: ok`);
  return 'downloaded';
}

/** Pulls every file of `dataset`; returns the outcome per file path. */
export async function pullDataset(dataset: string, options: PullOptions): Promise<Record<string, PullOutcome>> {
  const manifest = loadManifest(dataset);
  const outcomes: Record<string, PullOutcome> = {};
  for (const file of Object.values(manifest.files)) outcomes[file.path] = await pullFile(dataset, file, options);
  return outcomes;
}
