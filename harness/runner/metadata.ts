/**
 * What a run records so its numbers can be reproduced: code revision, versions, hardware. The same
 * for every run of a study, so gathered once per study (git is two process spawns).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, platform, arch, totalmem, release } from 'node:os';
import type { RunMetadata } from '../../src/store/study-db.ts';
import { PACKAGE_ROOT } from '../../src/package-root.ts';

const ROOT = `${PACKAGE_ROOT}/`;

function gitRevision(): string | null {
  try {
    const rev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${rev}-dirty` : rev;
  } catch {
    return null;
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function packageVersions(): Record<string, string> {
  const own = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
  return {
    flexibench: own,
    node: process.versions.node,
    'onnxruntime-node': packageVersion('onnxruntime-node'),
    '@duckdb/node-api': packageVersion('@duckdb/node-api'),
    '@huggingface/tokenizers': packageVersion('@huggingface/tokenizers'),
  };
}

function hardware(): Record<string, unknown> {
  const c = cpus();
  return { cpu: c[0]?.model ?? 'unknown', cores: c.length, memory_bytes: totalmem(), platform: platform(), arch: arch(), kernel: release() };
}

export type StudyMetadata = Pick<RunMetadata, 'gitRevision' | 'packageVersions' | 'hardware'>;

export function studyMetadata(): StudyMetadata {
  return { gitRevision: gitRevision(), packageVersions: packageVersions(), hardware: hardware() };
}
