/**
 * The folder holding flexibench's package.json: where the runtime assets lie (tasks/, models/,
 * datasets/manifests, reports/pattern-schemas). Modules run both from the sources and from the
 * build in dist/, one folder deeper, so a fixed '../..' from a module would be right in only one
 * of the two: walking up to package.json is right in both.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}: flexibench's files are incomplete`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, from its root: `packagePath('tasks', 'copy.yaml')`. */
export function packagePath(...segments: string[]): string {
  return path.join(PACKAGE_ROOT, ...segments);
}
