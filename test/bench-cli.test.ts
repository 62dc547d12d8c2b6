// `flexibench bench --synthetic ... --json` as a user runs it: the documented fields with sane
// values, --skip-rate reached, --context setting the prompt, and the option conflicts in one line.
import { describe, expect, it } from 'vitest';
import { syntheticWeightBytes } from '../src/model/synthetic-checkpoint.ts';
import { flexibench } from './cli.ts';

interface VariantJson {
  decode_ms_per_step: number;
  decode_ms_per_step_spread: { min: number; max: number };
  decode_tokens_per_s: number;
  prefill_tokens_per_s: number;
  layers_used_mean: number;
  multiply_adds_per_step: number;
  rounds_ms_per_step: number[];
  sessions_ms_per_step: number[];
  weight_bytes_read_per_step: number;
  weight_read_bytes_per_s: number;
  bandwidth_fraction: number;
}

interface BenchJson {
  synthetic: { hidden_size: number; layers: number };
  intra_op_threads: number;
  precision: string;
  prompt_tokens: number;
  decode_tokens: number;
  threshold: number;
  skip_rate_target: number | null;
  skip_rate: number;
  layers_total: number;
  routing_layers: number[];
  full: VariantJson;
  flexidepth: VariantJson;
  decode_speed_ratio: number;
  ideal_speed_ratio: number;
  efficiency: number;
  session_layout: string;
  memory_read_bandwidth: { bytes_per_s: number; spread: { min: number; max: number } };
  scale: {
    checkpoint_bytes: number;
    weight_bytes: number;
    checkpoint_load_s: number;
    graphs: Record<'full' | 'flexidepth', { build_s: number; bytes: number; weight_bytes: number }>;
    sessions: { variant: string; open_s: number; rss_growth_bytes: number }[];
    peak_rss_bytes: number;
  };
}

const bench = (args: string[]): BenchJson => {
  const r = flexibench(['bench', '--synthetic', '128:8', '--tokens', '12', '--rounds', '2', ...args, '--json']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/round 2\/2: ms per decode step full/);
  return JSON.parse(r.stdout) as BenchJson;
};

const finitePositive = (x: number): boolean => Number.isFinite(x) && x > 0;

describe('bench --synthetic --json', () => {
  it('--skip-rate: the threshold makes about that share of routed decisions skip; ratios and fields are sane', () => {
    const doc = bench(['--skip-rate', '0.3', '--context', '20']);
    expect(doc.synthetic).toMatchObject({ hidden_size: 128, layers: 8 });
    expect(doc.routing_layers).toEqual([4, 5, 6, 7]);
    expect(doc.intra_op_threads).toBe(1);
    expect(doc.prompt_tokens).toBe(20);
    expect(doc.skip_rate_target).toBe(0.3);
    expect(Math.abs(doc.skip_rate - 0.3)).toBeLessThanOrEqual(0.1);
    for (const v of [doc.full, doc.flexidepth]) {
      expect(v.rounds_ms_per_step).toHaveLength(2);
      expect(v.sessions_ms_per_step).toHaveLength(2);
      for (const x of [v.decode_ms_per_step, v.decode_tokens_per_s, v.prefill_tokens_per_s, v.multiply_adds_per_step]) expect(finitePositive(x)).toBe(true);
      expect(v.decode_ms_per_step_spread.min).toBeLessThanOrEqual(v.decode_ms_per_step);
      expect(v.decode_ms_per_step_spread.max).toBeGreaterThanOrEqual(v.decode_ms_per_step);
      expect(v.decode_tokens_per_s).toBeCloseTo(1000 / v.decode_ms_per_step, 6);
    }
    expect(doc.full.layers_used_mean).toBe(8);
    // About 30% of the 4 routed layers skipped: about 8 - 1.2 layers used.
    expect(doc.flexidepth.layers_used_mean).toBeGreaterThan(6);
    expect(doc.flexidepth.layers_used_mean).toBeLessThan(8);
    for (const x of [doc.decode_speed_ratio, doc.ideal_speed_ratio, doc.efficiency]) expect(finitePositive(x)).toBe(true);
    // Skipping saves work: the ideal ratio is above 1 (and below what skipping every routed layer allows).
    expect(doc.ideal_speed_ratio).toBeGreaterThan(1);
    expect(doc.ideal_speed_ratio).toBeLessThan(2);
    expect(doc.efficiency).toBeCloseTo(doc.decode_speed_ratio / doc.ideal_speed_ratio, 9);

    // What scale costs: a BF16 checkpoint of half the float32 weights (plus its headers), two graphs
    // holding about the float32 weights each, and four sessions, opened ABBA.
    const { scale } = doc;
    expect(scale.weight_bytes).toBe(syntheticWeightBytes({ hiddenSize: 128, numLayers: 8 }));
    expect(scale.checkpoint_bytes).toBeGreaterThan(scale.weight_bytes / 2);
    expect(scale.checkpoint_bytes).toBeLessThan(scale.weight_bytes / 2 + 64 * 1024);
    for (const g of [scale.graphs.full, scale.graphs.flexidepth]) {
      expect(g.build_s).toBeGreaterThan(0);
      expect(g.bytes).toBeGreaterThan(0.5 * scale.weight_bytes);
      expect(g.bytes).toBeLessThan(1.5 * scale.weight_bytes);
    }
    expect(scale.sessions.map((x) => x.variant)).toEqual(['full', 'flexidepth', 'flexidepth', 'full']);
    for (const x of scale.sessions) {
      expect(x.open_s).toBeGreaterThan(0);
      expect(Number.isInteger(x.rss_growth_bytes)).toBe(true);
    }
    expect(scale.checkpoint_load_s).toBeGreaterThan(0);
    expect(doc.session_layout).toBe('abba');
    expect(Number.isInteger(scale.peak_rss_bytes) && scale.peak_rss_bytes > 1e8).toBe(true);
    // flexidepth's graph holds every tensor (each router's dec and head folded into one vector); full's all but the routers and adapters.
    expect(scale.graphs.flexidepth.weight_bytes).toBeLessThan(scale.weight_bytes);
    expect(scale.graphs.flexidepth.weight_bytes).toBeGreaterThan(0.99 * scale.weight_bytes);
    expect(scale.graphs.full.weight_bytes).toBeLessThan(scale.graphs.flexidepth.weight_bytes);

    // Weights read per step: full reads everything its graph holds but the embedding table, of
    // which one row (d 128, vocabulary 1024); two counts of different origin, the graph's tensors
    // and the per-step model (weight-traffic.ts).
    expect(doc.full.weight_bytes_read_per_step).toBe(scale.graphs.full.weight_bytes - 4 * 128 * (1024 - 1));
    expect(doc.flexidepth.weight_bytes_read_per_step).toBeLessThan(doc.full.weight_bytes_read_per_step);
    const bandwidth = doc.memory_read_bandwidth.bytes_per_s;
    expect(bandwidth).toBeGreaterThan(1e9);
    for (const v of [doc.full, doc.flexidepth]) {
      expect(v.weight_read_bytes_per_s / (v.weight_bytes_read_per_step / (v.decode_ms_per_step / 1000))).toBeCloseTo(1, 9);
      expect(v.bandwidth_fraction).toBeCloseTo(v.weight_read_bytes_per_s / bandwidth, 9);
    }
  });

  it('--precision int4: both variants on MatMulNBits weights, read per step at about a sixth of float32', () => {
    const fp32 = bench(['--context', '8', '--threshold', '0.5']);
    const int4 = bench(['--context', '8', '--threshold', '0.5', '--precision', 'int4']);
    expect(int4.precision).toBe('int4');
    // 4 bits per weight and a float32 scale and 4-bit zero point per 32, against 32 bits; the norms and routers stay float32.
    const ratio = int4.full.weight_bytes_read_per_step / fp32.full.weight_bytes_read_per_step;
    expect(ratio).toBeGreaterThan(0.1);
    expect(ratio).toBeLessThan(0.25);
    expect(int4.scale.graphs.full.bytes).toBeLessThan(0.3 * fp32.scale.graphs.full.bytes);
  });

  it('--context sets the prompt length, and a longer context costs more multiply-adds per step', () => {
    const short = bench(['--context', '8', '--threshold', '0.5']);
    const long = bench(['--context', '200', '--threshold', '0.5']);
    expect(short.prompt_tokens).toBe(8);
    expect(long.prompt_tokens).toBe(200);
    expect(long.threshold).toBe(0.5);
    expect(long.full.multiply_adds_per_step).toBeGreaterThan(short.full.multiply_adds_per_step);
  });

  it.each([
    [['--synthetic', '128:8', '--model', 'm'], 'flexibench: bench: give --model DIR or --synthetic HIDDEN:LAYERS (one of them)'],
    [[], 'flexibench: bench: give --model DIR or --synthetic HIDDEN:LAYERS (one of them)'],
    [
      ['--synthetic', '100:8'],
      "flexibench: bench: --synthetic must be HIDDEN:LAYERS with HIDDEN a multiple of 64 from 64 to 8192 and LAYERS from 2 to 128, or a real model's shape: llama-3-8b (e.g. 1024:16), got '100:8'",
    ],
    [['--synthetic', '128:8', '--threshold', '0.4', '--skip-rate', '0.5'], 'flexibench: bench: give --threshold or --skip-rate, not both'],
    [['--synthetic', '128:8', '--prompt', 'hi'], 'flexibench: bench: --synthetic has no tokenizer; use --context N instead of --prompt'],
  ])('%j: one line, exit 1', (args, line) => {
    const r = flexibench(['bench', ...args]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${line}\n`);
  });
});
