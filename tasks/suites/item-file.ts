/**
 * A user's own file of items (a task's `source: {kind: file}`, or its few-shot examples): checked
 * and read as a dataset file is (a regular file within the dataset file limit), hashed, and parsed
 * by its extension into rows of fields. JSON and JSONL are parsed here, so that a bad row is named
 * by its line; CSV and Parquet are read by DuckDB (./tabular-rows.ts).
 *
 * Errors are one line. A problem of the file itself starts with the file and ends with the task
 * field that names it: `data/capitals.jsonl: line 3: expected a JSON object, got an array
 * (capitals.yaml /source/path)`.
 */
import path from 'node:path';
import { UserError } from '../../src/errors.ts';
import { FILE_KINDS, parseJsonText, readUserFile } from '../../src/user-file.ts';
import { sha256Hex } from '../../datasets/load.ts';
import { displayPath } from './display-path.ts';
import { rowFields } from './row-fields.ts';
import { readTabular } from './tabular-rows.ts';

export const ITEM_FILE_FORMATS = { '.jsonl': 'jsonl', '.json': 'json', '.csv': 'csv', '.parquet': 'parquet' } as const;
export type ItemFileFormat = (typeof ITEM_FILE_FORMATS)[keyof typeof ITEM_FILE_FORMATS];

export interface FileRow {
  fields: Readonly<Record<string, string>>;
  /** Where the row is, for errors: `line 3` (JSONL), `item 3` (JSON), `row 3` (CSV after its header, Parquet). */
  where: string;
}

export interface ItemFile {
  /** As errors show it (./display-path.ts). */
  shown: string;
  sha256: string;
  rows: readonly FileRow[];
  /** The fields every row has, in the first row's order (CSV and Parquet: the columns). */
  fields: readonly string[];
}

/** The task file and the field that name an item file (`tasks/x.yaml`, `/source/path`), for errors. */
export interface ItemFileRef {
  task: string;
  field: string;
}

/** Parsed files by format and content, so a suite's spec and its items share one parse. */
const parsed = new Map<string, { rows: readonly FileRow[]; fields: readonly string[] }>();

function formatOf(full: string, shown: string, ref: ItemFileRef): ItemFileFormat {
  const extension = path.extname(full).toLowerCase();
  const format = (ITEM_FILE_FORMATS as Record<string, ItemFileFormat | undefined>)[extension];
  if (format === undefined) {
    const known = Object.keys(ITEM_FILE_FORMATS).join(', ');
    const what = extension === '' ? 'has no extension' : `has the unknown extension '${extension}'`;
    throw new UserError(`${shown}: ${what}; the format comes from it: ${known} (${ref.task} ${ref.field})`);
  }
  return format;
}

function readBytes(full: string, shown: string, ref: ItemFileRef): Buffer {
  try {
    return readUserFile(full, FILE_KINDS.datasetFile);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    if (/\((ENOENT|ENOTDIR)\)$/.test(err.message)) throw new UserError(`${shown}: no such file (${ref.task} ${ref.field})`);
    // readUserFile names the absolute path; the rest of its message says what is wrong.
    const why = err.message.startsWith(`${full}:`) ? err.message.slice(full.length + 1).trim() : err.message;
    throw new UserError(`${shown}: ${why} (${ref.task} ${ref.field})`);
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** UTF-8 text (a leading BOM dropped); invalid bytes are refused with their line rather than read as U+FFFD. */
function utf8Text(bytes: Buffer, refuse: (why: string) => never): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, end === -1 ? bytes.length : end));
      } catch {
        return refuse(`line ${line}: not valid UTF-8`);
      }
      if (end === -1) return refuse('not valid UTF-8');
      start = end + 1;
    }
  }
}

function jsonlRows(bytes: Buffer, refuse: (why: string) => never): FileRow[] {
  const rows: FileRow[] = [];
  const lines = utf8Text(bytes, refuse).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const where = `line ${i + 1}`;
    let value: unknown;
    try {
      value = parseJsonText(line, where);
    } catch (err) {
      if (err instanceof UserError) refuse(err.message);
      throw err;
    }
    if (!isObject(value)) refuse(`${where}: expected a JSON object, got ${jsonType(value)}`);
    rows.push({ fields: rowFields(value), where });
  }
  return rows;
}

function jsonRows(bytes: Buffer, refuse: (why: string) => never): FileRow[] {
  let value: unknown;
  try {
    value = parseJsonText(utf8Text(bytes, refuse), 'the file');
  } catch (err) {
    if (err instanceof UserError) refuse(err.message.replace(/^the file: /, ''));
    throw err;
  }
  if (!Array.isArray(value)) refuse(`expected a JSON array of objects, got ${jsonType(value)}`);
  return (value as unknown[]).map((item, i) => {
    const where = `item ${i + 1}`;
    if (!isObject(item)) refuse(`${where}: expected a JSON object, got ${jsonType(item)}`);
    return { fields: rowFields(item as Record<string, unknown>), where };
  });
}

function tabularRows(bytes: Buffer, format: 'csv' | 'parquet', shown: string, refuse: (why: string) => never): { rows: FileRow[]; columns: string[] } {
  const reply = readTabular(bytes, format, shown);
  if ('failure' in reply) return refuse(`not a readable ${format === 'csv' ? 'CSV' : 'Parquet'} file: ${reply.failure}`);
  if ('rejected' in reply) return refuse(`line ${reply.rejected.line}: ${reply.rejected.reason}`);
  return { rows: reply.rows.map((row, i) => ({ fields: rowFields(row), where: `row ${i + 1}` })), columns: reply.columns };
}

function parse(bytes: Buffer, format: ItemFileFormat, shown: string, ref: ItemFileRef): { rows: readonly FileRow[]; fields: readonly string[] } {
  const refuse = (why: string): never => {
    throw new UserError(`${shown}: ${why} (${ref.task} ${ref.field})`);
  };
  let rows: FileRow[];
  let fields: string[];
  if (format === 'csv' || format === 'parquet') {
    ({ rows, columns: fields } = tabularRows(bytes, format, shown, refuse));
  } else {
    rows = format === 'jsonl' ? jsonlRows(bytes, refuse) : jsonRows(bytes, refuse);
    fields = Object.keys(rows[0]?.fields ?? {}).filter((name) => rows.every((row) => name in row.fields));
  }
  if (rows.length === 0) refuse('has no items');
  return { rows, fields };
}

/** The item file at `full`, named by `ref`, read now; with `pinned`, a file of other content is refused. */
export function readItemFile(full: string, ref: ItemFileRef, pinned?: string): ItemFile {
  const shown = displayPath(full);
  const format = formatOf(full, shown, ref);
  const bytes = readBytes(full, shown, ref);
  const actual = sha256Hex(bytes);
  if (pinned !== undefined && actual !== pinned) {
    const shaField = ref.field.replace(/\/path$/, '/sha256');
    throw new UserError(`${ref.task}: ${shaField} is ${pinned}, but ${shown} has sha256 ${actual} (the file changed)`);
  }
  const key = `${format}\0${actual}`;
  const content = parsed.get(key) ?? parse(bytes, format, shown, ref);
  parsed.set(key, content);
  return { shown, sha256: actual, ...content };
}

/**
 * The item file of a loaded spec, whose `sha256` is that of the content it was loaded with: that
 * content as parsed then, when this process parsed it, so items and spec never disagree.
 */
export function loadedItemFile(full: string, ref: ItemFileRef, sha256: string): ItemFile {
  const shown = displayPath(full);
  const known = parsed.get(`${formatOf(full, shown, ref)}\0${sha256}`);
  return known !== undefined ? { shown, sha256, ...known } : readItemFile(full, ref, sha256);
}
