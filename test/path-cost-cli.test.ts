/**
 * `flexibench path-cost`: the multiply-adds of decode steps given on stdin are src/model/path-cost.ts's
 * count for the checkpoint (what `bench` reports and training/bench_torch.py reads), one line per step;
 * a bad step is one line on stderr, exit 1, nothing on stdout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { packagePath } from '../src/package-root.ts';
import { decodeStepMultiplyAdds } from '../src/model/path-cost.ts';

const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const MODEL = packagePath('models', 'flexidepth-ref');

function pathCost(input: string, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'path-cost', ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('flexibench path-cost', () => {
  const ckpt = loadCheckpoint(MODEL);
  const cfg = ckpt.config;
  const routed = cfg.routingLayers.length;

  it("counts each step as src/model/path-cost.ts does, with the checkpoint's adapter width", () => {
    const steps: { keys: number; full_path: boolean[] | null }[] = [
      { keys: 1, full_path: null },
      { keys: 40, full_path: null },
      { keys: 40, full_path: Array.from({ length: routed }, () => true) },
      { keys: 40, full_path: Array.from({ length: routed }, () => false) },
      { keys: 7, full_path: Array.from({ length: routed }, (_, k) => k % 2 === 0) },
    ];
    const r = pathCost(`${steps.map((s) => JSON.stringify(s)).join('\n')}\n\n`, ['--model', MODEL]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(steps.map((s) => `${decodeStepMultiplyAdds(cfg, s.keys, s.full_path, ckpt.adapterSize)}\n`).join(''));
    // The full variant's step grows with the keys only through attention; a skip costs less than the full path.
    const [one, forty, allFull, allSkip] = r.stdout.trim().split('\n').map(Number);
    expect(forty! - one!).toBe(cfg.numLayers * 2 * cfg.numHeads * cfg.headDim * 39);
    expect(allSkip!).toBeLessThan(allFull!);
    // The reference model is the default.
    expect(pathCost(`${JSON.stringify(steps[2])}\n`).stdout).toBe(`${r.stdout.split('\n')[2]}\n`);
  });

  it.each([
    ['{"keys": 0, "full_path": null}', 'stdin:2: "keys" must be a positive integer'],
    ['{"keys": 3}', `stdin:2: "full_path" must be null (the full variant) or ${routed} booleans, one per routed layer`],
    ['{"keys": 3, "full_path": [true]}', `stdin:2: "full_path" must be null (the full variant) or ${routed} booleans, one per routed layer`],
    ['[3]', 'stdin:2: not a JSON object'],
  ])('%s: one line, exit 1, nothing counted', (line, message) => {
    const r = pathCost(`{"keys": 2, "full_path": null}\n${line}\n`);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`flexibench: ${message}\n`);
  });
});
