/**
 * The items of a suite, before any prompt is rendered: the rows of a dataset split (with derived
 * fields) or the output of a seeded generator. Each has an id that stays the same across runs,
 * limits and machines.
 */
import { UserError } from '../errors.ts';
import { loadManifest, manifestFile } from '../../datasets/manifest.ts';
import { loadRows, type Row } from '../../datasets/load.ts';
import { GENERATORS } from '../../datasets/generators/registry.ts';
import type { TaskSpec } from './spec.ts';
import type { DatasetSource } from './task-schema.ts';

export interface Item {
  /** Stable: the dataset's id field, else `<split>-<row>`; `<seed>-<n>` for generated items. */
  id: string;
  fields: Readonly<Record<string, string>>;
}

function rowFields(row: Row): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(row)) {
    fields[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return fields;
}

/** Rows of one split of the spec's dataset, with derived fields, as items. */
export function datasetItems(source: DatasetSource, split: string, dataDir: string, file: string): Item[] {
  const manifest = loadManifest(source.dataset);
  const rows = loadRows(source.dataset, split, dataDir);
  const path = manifestFile(manifest, split).path;
  return rows.map((row, index) => {
    const fields = rowFields(row);
    for (const [name, rule] of Object.entries(source.derive ?? {})) {
      let value = fields[rule.from] ?? '';
      if (rule.strip_prefix !== undefined) {
        if (!value.startsWith(rule.strip_prefix)) {
          throw new UserError(`datasets: ${path} row ${index + 1}: '${rule.from}' does not start with '${rule.strip_prefix}' (${file} /source/derive/${name})`);
        }
        value = value.slice(rule.strip_prefix.length);
      }
      fields[name] = value;
    }
    const idValue = manifest.id_field !== undefined ? fields[manifest.id_field] : undefined;
    return { id: idValue !== undefined ? idValue : `${split}-${index}`, fields };
  });
}

export function loadItems(spec: TaskSpec, dataDir: string): Item[] {
  const source = spec.source;
  if (source.kind === 'dataset') return datasetItems(source, source.split, dataDir, spec.file);
  const generated = GENERATORS[source.generator].generate({
    options: source.options ?? {},
    seed: source.seed,
    count: source.count,
    dataDir,
    where: `${spec.file}: /source/count`,
  });
  return generated.map((fields, index) => ({ id: `${source.seed}-${index}`, fields }));
}
