/**
 * Where dataset files are read from: `--data-dir`, else $FLEXIBENCH_DATA_DIR, else a per-user
 * cache folder that `flexibench data pull` fills. Tests and CI point $FLEXIBENCH_DATA_DIR at
 * ../shared/datasets; the data is never copied into the repository.
 */
import os from 'node:os';
import path from 'node:path';

export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'flexibench', 'datasets');
}

export function resolveDataDir(flag?: string): string {
  if (flag !== undefined && flag !== '') return path.resolve(flag);
  const env = process.env.FLEXIBENCH_DATA_DIR;
  if (env !== undefined && env !== '') return path.resolve(env);
  return defaultCacheDir();
}
