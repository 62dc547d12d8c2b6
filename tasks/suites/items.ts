/**
 * The items of a suite, before any prompt is rendered: the rows of a dataset split (with derived
 * fields), the rows of the user's own file, or the output of a seeded generator. Each has an id
 * that stays the same across runs, limits and machines (./item.ts).
 */
import path from 'node:path';
import { UserError } from '../../src/errors.ts';
import { loadManifest, manifestFile } from '../../datasets/manifest.ts';
import { loadRows } from '../../datasets/load.ts';
import { GENERATORS } from '../../datasets/generators/registry.ts';
import { withDerived } from './derive.ts';
import { fullPath } from './display-path.ts';
import { fileItems } from './file-items.ts';
import type { Item } from './item.ts';
import { loadedItemFile } from './item-file.ts';
import { rowFields } from './row-fields.ts';
import type { TaskSpec } from './spec.ts';
import type { DatasetSource, FileSource } from './task-schema.ts';

/** Rows of one split of the spec's dataset, with derived fields, as items. */
export function datasetItems(source: DatasetSource, split: string, dataDir: string, file: string): Item[] {
  const manifest = loadManifest(source.dataset);
  const rows = loadRows(source.dataset, split, dataDir);
  const path = manifestFile(manifest, split).path;
  return rows.map((row, index) => {
    const result = withDerived(rowFields(row), source.derive);
    if ('mismatch' in result) {
      const { name, from, prefix } = result.mismatch;
      throw new UserError(`datasets: ${path} row ${index + 1}: '${from}' does not start with '${prefix}' (${file} /source/derive/${name})`);
    }
    const fields = result.fields;
    const idValue = manifest.id_field !== undefined ? fields[manifest.id_field] : undefined;
    return { id: idValue !== undefined ? idValue : `${split}-${index}`, fields };
  });
}

/**
 * The items of a file a loaded spec names (`/source/path`, or the examples' `/fewshot/path`): the
 * content the spec was loaded with, whose sha256 it carries.
 */
function specFileItems(spec: TaskSpec, source: FileSource, at: '/source' | '/fewshot', file: { path: string; sha256?: string }): Item[] {
  if (file.sha256 === undefined) throw new Error(`${spec.file}: ${at}/sha256 was not filled in when the spec was loaded`);
  const full = path.resolve(path.dirname(fullPath(spec.file)), file.path);
  const itemFile = loadedItemFile(full, { task: spec.file, field: `${at}/path` }, file.sha256);
  return fileItems(itemFile, source, spec.file);
}

export function loadItems(spec: TaskSpec, dataDir: string): Item[] {
  const source = spec.source;
  if (source.kind === 'dataset') return datasetItems(source, source.split, dataDir, spec.file);
  if (source.kind === 'file') return specFileItems(spec, source, '/source', source);
  const generated = GENERATORS[source.generator].generate({
    options: source.options ?? {},
    seed: source.seed,
    count: source.count,
    dataDir,
    where: `${spec.file}: /source/count`,
  });
  return generated.map((fields, index) => ({ id: `${source.seed}-${index}`, fields }));
}

/**
 * The items few-shot examples are drawn from: the dataset's few-shot split, or the file source's
 * examples file; null for a suite without few-shot examples. The spec was checked on loading, so
 * the split or path is there.
 */
export function fewshotItems(spec: TaskSpec, dataDir: string): Item[] | null {
  const { count, split, path: examples, sha256 } = spec.fewshot;
  if (count === 0) return null;
  const source = spec.source;
  if (source.kind === 'dataset' && split !== undefined) return datasetItems(source, split, dataDir, spec.file);
  if (source.kind === 'file' && examples !== undefined) {
    return specFileItems(spec, source, '/fewshot', { path: examples, ...(sha256 !== undefined ? { sha256 } : {}) });
  }
  throw new Error(`${spec.file}: /fewshot has count ${count} but no examples for a ${source.kind} source; the spec was not checked`);
}
