// The contract between the two languages: training/'s smoke configuration exports a tiny ddllama
// checkpoint, and the TypeScript engine loads it and agrees with PyTorch's forward of the same
// files (training/reference_forward.py) on greedy tokens, routing decisions and gates.
// Needs Debian's python3-torch (.ci/run installs it); elsewhere without it the test is skipped, loudly.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) {
  if (process.env['CI']) throw new Error(`${PYTHON} cannot import torch: .ci/run must install python3-torch`);
  console.warn('training contract test skipped: /usr/bin/python3 has no torch (apt-get install python3-torch libopenblas0-pthread)');
}

interface Positions {
  tokens: { id: number; phase: string; gates?: number[]; mask?: boolean[]; layers_used: number }[];
}

describe.skipIf(!hasTorch)('training smoke checkpoint in the TypeScript engine', () => {
  const work = mkdtempSync(join(tmpdir(), 'fb-smoke-'));
  const model = join(work, 'smoke');
  const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };

  beforeAll(() => {
    execFileSync('bash', [join(ROOT, 'training/train_reference.sh'), '--smoke', model], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
  }, 600_000);

  const reference = (variant: string, prompt: string, n: number): Positions =>
    JSON.parse(
      execFileSync(PYTHON, ['-m', 'training.reference_forward', '--model', model, '--variant', variant, '--prompt', prompt, '--max-new-tokens', String(n)], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    ) as Positions;

  it.each(['flexidepth', 'full'])('%s: same greedy tokens, decisions and gates as PyTorch', (variant) => {
    for (const prompt of ['Question: What is 12 + 7?\nAnswer:', 'Repeat the numbers: 4 81 7\nAnswer:', 'To be, or not']) {
      const want = reference(variant, prompt, 12);
      const r = flexibench(['generate', '--model', model, '--variant', variant, '--prompt', prompt, '--max-new-tokens', '12', '--json'], env);
      expect(r.status, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as Positions;
      expect(got.tokens.map((t) => t.id)).toEqual(want.tokens.map((t) => t.id));
      let decided = 0;
      got.tokens.forEach((t, i) => {
        const w = want.tokens[i]!;
        expect(t.layers_used).toBeGreaterThan(0);
        (w.gates ?? []).forEach((g, r) => {
          expect(Math.abs(t.gates![r]! - g)).toBeLessThan(1e-4);
          if (Math.abs(g - 0.5) > 1e-4) {
            expect(t.mask![r]).toBe(g > 0.5);
            decided++;
          }
        });
      });
      if (variant === 'flexidepth') expect(decided).toBeGreaterThan(0);
    }
  });

  it("the PyTorch reference passes its self-checks on it, layer_need.py's skip included", () => {
    const r = spawnSync(PYTHON, ['-m', 'training.test_reference', model], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('ok: layer_need one-layer skip == routing with forced gates');
  });

  it("layer_need.py measures every routed layer for each suite asked for, on the harness's items", () => {
    const out = join(work, 'need.json');
    const r = spawnSync(PYTHON, ['-m', 'training.layer_need', '--model', model, '--limit', '4', '--suites', 'addition,repetition', '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const routed = (JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { routing_layers: number[] }).routing_layers;
    const need = JSON.parse(readFileSync(out, 'utf8')) as {
      results: {
        suite: string;
        items: number;
        reference_tokens: number;
        nll_rise_sum: number;
        per_layer: Record<string, { nll_rise: number; changed: number }>;
      }[];
    };
    expect(need.results.map((x) => x.suite)).toEqual(['addition', 'repetition']);
    for (const x of need.results) {
      expect(x.items).toBe(4);
      expect(x.reference_tokens).toBeGreaterThan(4);
      expect(Object.keys(x.per_layer).map(Number)).toEqual(routed);
      const layers = Object.values(x.per_layer);
      expect(x.nll_rise_sum).toBeCloseTo(
        layers.reduce((a, l) => a + l.nll_rise, 0),
        9,
      );
      for (const l of layers) expect(l.changed >= 0 && l.changed <= 1 && Number.isFinite(l.nll_rise)).toBe(true);
    }
  });
});
