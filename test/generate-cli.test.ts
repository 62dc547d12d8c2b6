// `flexibench generate --json` and `flexibench bench --json` on a FlexiDepth checkpoint, as a user
// runs them: the documented JSON shape, depth bookkeeping, sampling, stop strings and bad options.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-gen-'));
const model = join(work, 'ddllama');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };

interface GenerateJson {
  text: string;
  stop_reason: string;
  layers_total: number;
  routing_layers: number[];
  tokens: { id: number; text: string; phase: 'prompt' | 'generated'; layers_used: number; mask: boolean[]; gates: number[] }[];
  timing: Record<string, number>;
}

const run = (args: string[]): GenerateJson => {
  const r = flexibench(['generate', '--model', model, ...args, '--json'], env);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as GenerateJson;
};

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
});

describe('generate --json', () => {
  it('gives one entry per position, prompt first, each with its own depth', () => {
    const out = run(['--prompt', 'abc', '--max-new-tokens', '12']);
    const prompt = out.tokens.filter((t) => t.phase === 'prompt');
    const generated = out.tokens.filter((t) => t.phase === 'generated');
    expect(prompt.map((t) => t.id)).toEqual([1, 68, 69, 70]); // <s> a b c
    expect(generated).toHaveLength(12);
    expect(out.tokens.slice(0, 4).every((t) => t.phase === 'prompt')).toBe(true);
    expect(out.routing_layers).toEqual([2, 3]);
    for (const t of out.tokens) {
      expect(t.gates).toHaveLength(2);
      expect(t.mask).toEqual(t.gates.map((g) => g > 0.5));
      expect(t.layers_used).toBe(2 + t.mask.filter(Boolean).length);
    }
    expect(generated.map((t) => t.text).join('')).toBe(out.text);
    expect(out.timing['decode_tokens']).toBe(12);
  });

  it('the threshold moves decisions: 0 takes every routed layer, 1 skips them all', () => {
    expect(run(['--bos', '--max-new-tokens', '5', '--threshold', '0']).tokens.every((t) => t.layers_used === 4)).toBe(true);
    expect(run(['--bos', '--max-new-tokens', '5', '--threshold', '1']).tokens.every((t) => t.layers_used === 2)).toBe(true);
  });

  it('the full variant of the same checkpoint uses every layer', () => {
    const out = run(['--variant', 'full', '--bos', '--max-new-tokens', '5']);
    expect(out.tokens.every((t) => t.layers_used === 4 && t.gates.length === 0)).toBe(true);
  });

  it('seeded sampling repeats exactly and depends on the seed', () => {
    const a = run(['--bos', '--max-new-tokens', '30', '--temperature', '1', '--top-p', '0.9', '--seed', '5']);
    const b = run(['--bos', '--max-new-tokens', '30', '--temperature', '1', '--top-p', '0.9', '--seed', '5']);
    const c = run(['--bos', '--max-new-tokens', '30', '--temperature', '1', '--top-p', '0.9', '--seed', '6']);
    expect(a.tokens.map((t) => t.id)).toEqual(b.tokens.map((t) => t.id));
    expect(a.tokens.map((t) => t.id)).not.toEqual(c.tokens.map((t) => t.id));
  });

  it('stops at a stop string and cuts the text before it', () => {
    const free = run(['--bos', '--max-new-tokens', '40']);
    const stop = free.text.slice(5, 7);
    const out = run(['--bos', '--max-new-tokens', '40', '--stop', stop]);
    expect(out.stop_reason).toBe('stop_string');
    expect(out.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
  });
});

describe('bad options', () => {
  it.each([
    [['--bos', '--variant', 'half'], /--variant must be one of full, flexidepth/],
    [['--bos', '--threshold', 'x'], /--threshold must be a number/],
    [['--max-new-tokens', '3'], /give --prompt TEXT, --bos, or both/],
    [['--bos', '--frobnicate'], /^flexibench: generate: unknown option '--frobnicate'\n$/],
  ])('%j', (args, pattern) => {
    const r = flexibench(['generate', '--model', model, ...args], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stdout).toBe('');
  });
});

describe('bench --json', () => {
  it('reports both variants from interleaved rounds of a text prompt, with stdout holding only the JSON', () => {
    const r = flexibench(['bench', '--model', model, '--tokens', '8', '--rounds', '2', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    type V = { rounds_ms_per_step: number[]; decode_ms_per_step: number; layers_used_mean: number };
    const doc = JSON.parse(r.stdout) as { full: V; flexidepth: V; prompt_tokens: number; decode_speed_ratio: number; ideal_speed_ratio: number };
    // The character tokenizer: BOS + one id per character of 'Once upon a time'.
    expect(doc.prompt_tokens).toBe(17);
    expect(doc.full.rounds_ms_per_step).toHaveLength(2);
    expect(doc.flexidepth.rounds_ms_per_step).toHaveLength(2);
    expect(doc.full.layers_used_mean).toBe(4);
    expect(doc.flexidepth.layers_used_mean).toBeLessThan(4);
    // Each variant's figure is the median of its rounds (two rounds: their mean).
    for (const v of [doc.full, doc.flexidepth]) expect(v.decode_ms_per_step).toBeCloseTo((v.rounds_ms_per_step[0]! + v.rounds_ms_per_step[1]!) / 2, 6);
    expect(Number.isFinite(doc.decode_speed_ratio) && doc.decode_speed_ratio > 0).toBe(true);
    expect(doc.ideal_speed_ratio).toBeGreaterThan(1);
    expect(r.stderr).toMatch(/round 2\/2: ms per decode step full/);
  });
});
