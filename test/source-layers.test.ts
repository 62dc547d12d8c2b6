/**
 * The source folders are listed once, in package.json's `sourceLayers` (lowest layer first), which
 * bin/flexibench.js and .dependency-cruiser.cjs read. The places that cannot read it (tsconfig.json,
 * the npm scripts' command lines) must name the same folders, and every folder of TypeScript sources
 * must be one of them, the tests (test/) or the measurement scripts (perf/): folders that are not
 * layers, which may import any layer and which nothing imports.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { sourceLayers: string[]; scripts: Record<string, string> };
const layers = pkg.sourceLayers;
/** Folders of TypeScript that are not layers: type-checked and import-checked like them, imported by none of them. */
const NOT_LAYERS = ['test', 'perf'];

/** The folder arguments that end the depcruise command of an npm script. */
function depcruiseRoots(script: string): string[] {
  const command = (pkg.scripts[script] ?? '').split('&&').find((c) => c.includes('depcruise')) ?? '';
  const words = command.trim().split(/\s+/);
  let first = words.length;
  while (first > 0 && /^[a-z]+$/.test(words[first - 1] as string)) first--;
  return words.slice(first);
}

describe('one list of source folders', () => {
  it('names the five layers, lowest first', () => {
    expect(layers).toEqual(['src', 'datasets', 'tasks', 'reports', 'harness']);
  });

  it('is what tsconfig.json compiles, besides the tests and the measurement scripts', () => {
    const tsconfig = JSON.parse(readFileSync('tsconfig.json', 'utf8')) as { include: string[] };
    expect(new Set(tsconfig.include)).toEqual(new Set([...layers, ...NOT_LAYERS, 'vitest.config.ts']));
  });

  it('is what the import rules and the folder graph cruise', () => {
    expect(new Set(depcruiseRoots('lint'))).toEqual(new Set([...layers, ...NOT_LAYERS]));
    expect(depcruiseRoots('deps:folders')).toEqual(layers);
    expect(pkg.scripts['deps:folders']).toContain(`--include-only '^(${layers.join('|')})/'`);
  });

  it('holds every tracked TypeScript source outside the tests and the measurement scripts', () => {
    const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const folders = new Set(files.map((f) => (f.includes('/') ? f.slice(0, f.indexOf('/')) : f)));
    for (const folder of NOT_LAYERS) folders.delete(folder);
    folders.delete('vitest.config.ts');
    expect([...folders].sort()).toEqual([...layers].sort());
  });
});
