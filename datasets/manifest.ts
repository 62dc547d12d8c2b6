/**
 * Dataset manifests (datasets/manifests/<name>.yaml): canonical source, license, fields and the
 * sha256 of every file as it must lie in the data directory. Validated against manifest.schema.json.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { packagePath } from '../src/package-root.ts';
import { UserError } from '../src/errors.ts';
import { parseYaml, validateConfig } from '../src/config-validation.ts';
import { FILE_KINDS, readUserFile } from '../src/user-file.ts';

const HERE = packagePath('datasets');
const MANIFEST_DIR = path.join(HERE, 'manifests');
const SCHEMA = path.join(HERE, 'manifest.schema.json');

export type FileFormat = 'jsonl' | 'text';

export interface DatasetFile {
  /** Relative to the data directory. */
  path: string;
  format: FileFormat;
  rows?: number;
  /** Canonical download; null when the file cannot be fetched as one file. */
  url: string | null;
  /** How the stored file is derived from the download (see ./pull.ts). */
  transform?: 'spec-bench-summarization';
  sha256: string;
}

export interface DatasetManifest {
  name: string;
  description: string;
  homepage: string;
  license: string;
  /** Field with a stable row id, used in doc ids. */
  id_field?: string;
  /** Field name -> meaning (JSONL files). */
  fields: Record<string, string>;
  /** Split or file key -> file. */
  files: Record<string, DatasetFile>;
}

const cache = new Map<string, DatasetManifest>();

export function listDatasets(): string[] {
  return readdirSync(MANIFEST_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function loadManifest(name: string): DatasetManifest {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const file = path.join(MANIFEST_DIR, `${name}.yaml`);
  const shown = `datasets/manifests/${name}.yaml`;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(file)) {
    throw new UserError(`unknown dataset '${name}' (known: ${listDatasets().join(', ')})`);
  }
  const manifest = validateConfig<DatasetManifest>(parseYaml(readUserFile(file, FILE_KINDS.datasetManifest).toString('utf8'), shown), SCHEMA, shown);
  if (manifest.name !== name) throw new UserError(`${shown}: /name must be '${name}' (the file name), got '${manifest.name}'`);
  cache.set(name, manifest);
  return manifest;
}

export function manifestFile(manifest: DatasetManifest, key: string): DatasetFile {
  const file = manifest.files[key];
  if (file === undefined) {
    throw new UserError(`dataset '${manifest.name}' has no split '${key}' (has: ${Object.keys(manifest.files).join(', ')})`);
  }
  return file;
}
