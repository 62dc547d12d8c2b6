/**
 * How task files and the files they name are shown in errors and in TaskSpec.file: relative to the
 * package for its own files (tasks/gsm8k.yaml), else absolute, so a message says where to look
 * whatever the current folder.
 */
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.ts';

export function displayPath(full: string): string {
  const rel = path.relative(PACKAGE_ROOT, full);
  return rel.startsWith('..') || path.isAbsolute(rel) ? full : rel.split(path.sep).join('/');
}

/** The absolute path of a file shown by displayPath. */
export function fullPath(shown: string): string {
  return path.resolve(PACKAGE_ROOT, shown);
}
