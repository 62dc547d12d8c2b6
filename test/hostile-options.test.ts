// Absurd numbers on the command line (issue 26): every numeric option has an upper bound, stated in
// --help and refused in one line before anything is read or written; bench's synthetic checkpoint
// is refused up front when it cannot fit, and never outlives the command, Ctrl-C included.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryShortfall, sessionLayout } from '../harness/bench/budget.ts';
import { batchMemoryProblem } from '../harness/runner/worker-budget.ts';
import { withTempFolder } from '../harness/temp-folder.ts';
import { parseModelConfig } from '../src/model/config.ts';
import { syntheticCheckpointBytes, syntheticConfig, syntheticWeightBytes, writeSyntheticCheckpoint } from '../src/model/synthetic-checkpoint.ts';
import { flexibenchMeasured } from './cli.ts';
import { DATA_DIR } from './shared-paths.ts';
import { tempDir } from './store-fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const work = tempDir('fb-hostile-options-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh $TMPDIR for one command, so what bench leaves there can be seen. */
function tmpFolder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  return dir;
}

/** What a command left in $TMPDIR of its own (node modules such as tsx keep caches there too). */
const leftovers = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('flexibench-'));

describe('numeric options out of range: one line naming the option, nothing written', () => {
  const db = join(work, 'never.duckdb');
  const out = join(work, 'never-report');
  const ENOUGH = '1e20';
  let cases = 0;
  const thresholds101 = Array.from({ length: 101 }, (_, i) => String(i / 100)).join(',');

  it.each([
    // run: --limit 1e20 once crashed in DuckDB's int64 binding after creating the study file.
    ['run', '--limit', ['--limit', ENOUGH]],
    ['run', '--seed', ['--seed', ENOUGH]],
    ['run', '--batch', ['--batch', '1e6']],
    ['run', '--workers', ['--workers', '1e6']],
    ['run', '--threads', ['--threads', '1e6']],
    ['run', '--static-layers', ['--static-layers', '1e9']],
    ['run', '--max-length', ['--max-length', ENOUGH]],
    ['run', '--thresholds', ['--thresholds', thresholds101]],
    // The model's own bound, checked after parsing but still before the study is created.
    ['run', '--max-length', ['--max-length', '100000']],
    ['report', '--bootstrap-samples', ['--bootstrap-samples', '1e9', '--out', out]],
    ['items', '--limit', ['--suite', 'copy', '--limit', ENOUGH]],
    ['generate', '--max-new-tokens', ['--model', 'm', '--bos', '--max-new-tokens', ENOUGH]],
    ['generate', '--temperature', ['--model', 'm', '--bos', '--temperature', '1e9']],
    ['generate', '--threads', ['--model', 'm', '--bos', '--threads', '1e6']],
    ['bench', '--context', ['--synthetic', '128:8', '--context', '1e9']],
    ['bench', '--tokens', ['--synthetic', '128:8', '--tokens', '1e9']],
    ['bench', '--rounds', ['--synthetic', '128:8', '--rounds', '1e9']],
    ['bench', '--batch', ['--synthetic', '128:8', '--batch', '1e6']],
    ['bench', '--seed', ['--synthetic', '128:8', '--seed', ENOUGH]],
    ['bench', '--synthetic', ['--synthetic', '64:1000000']],
    ['bench', '--synthetic', ['--synthetic', '65536:4']],
    // Within the range, far beyond any disk or memory here (378 GB of float32 weights, a 189 GB BF16 checkpoint): refused with the sizes.
    ['bench', '--synthetic', ['--synthetic', '8192:128'], /needs ~[\d.]+ GB .*189\.\d GB BF16 checkpoint.*, but [\d.]+ GB is free/],
  ])('%s %s', (command, option, args, detail?: RegExp) => {
    const tmp = tmpFolder(`case-${cases++}`);
    const dbArgs = command === 'run' || command === 'report' ? ['--db', db] : [];
    const r = flexibenchMeasured([command, ...dbArgs, ...args], { env: { TMPDIR: tmp, FLEXIBENCH_DATA_DIR: DATA_DIR } });
    expect(r.timedOut).toBe(false);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^flexibench: ${command}: [^\\n]*${option}[ =][^\\n]*\\n$`));
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
    if (detail !== undefined) expect(r.stderr).toMatch(detail);
  });
});

describe('--help states every bound', () => {
  const COMMANDS = ['run', 'report', 'items', 'generate', 'bench', 'score', 'tasks', 'merge', 'export-patterns', 'import-llama2c'];
  /** The value names the option tables give numbers. */
  const NUMERIC = /<(N|K|S|B|T|R|P)>$/;

  it.each(COMMANDS)('%s: each numeric option says its range', async (name) => {
    const { command } = (await import(`../harness/commands/${name}.ts`)) as { command: Command };
    const help = command.helpInformation();
    for (const option of command.options.filter((o) => NUMERIC.test(o.flags))) {
      // A range, or every value taken (--block-size: the powers of two MatMulNBits has kernels for).
      expect(option.description, option.flags).toMatch(/\((an integer|a number) from [\d.]+ to [\d.]+\)|\((\d+, )+\d+\)/);
      expect(help.replace(/\s+/g, ' ')).toContain(option.description.replace(/\s+/g, ' ').slice(0, 40));
    }
  });

  it('run --thresholds and bench --synthetic say theirs', async () => {
    const run = ((await import('../harness/commands/run.ts')) as { command: Command }).command;
    const bench = ((await import('../harness/commands/bench.ts')) as { command: Command }).command;
    expect(run.options.find((o) => o.long === '--thresholds')!.description).toMatch(/each a number from 0 to 1, at most 100 of them/);
    expect(bench.options.find((o) => o.long === '--synthetic')!.description).toMatch(/HIDDEN a multiple of 64 from 64 to 8192 and LAYERS from 2 to 128/);
  });
});

describe('memory and disk estimates', () => {
  const reference = { numLayers: 12, numKvHeads: 2, headDim: 32 };

  it('run --batch: refused when its KV caches exceed the free memory, naming the batch that fits', () => {
    // 2 x 4 bytes x 12 layers x 2 heads x 32 = 6 KiB per position; x 2 copies x 2048 positions = 24 MiB a row.
    const problem = batchMemoryProblem({ batch: 256, config: reference, longest: 2048, availableBytes: 2 ** 30 });
    expect(problem?.message).toMatch(/^run: --batch must be an integer from 1 to 31, got '256' \(here: the KV caches of 256 sequences of up to 2048 positions/);
    expect(batchMemoryProblem({ batch: 31, config: reference, longest: 2048, availableBytes: 2 ** 30 })).toBeNull();
    // One sequence is always allowed: it is the least a run can do.
    expect(batchMemoryProblem({ batch: 1, config: reference, longest: 2048, availableBytes: 0 })).toBeNull();
  });

  it('bench: the 8B shape (4096 x 32 layers) is refused for memory on 24 GB, a small one fits', () => {
    const shape = (hiddenSize: number, numLayers: number) => ({
      config: parseModelConfig(syntheticConfig({ hiddenSize, numLayers }), 'synthetic'),
      weightBytes: syntheticWeightBytes({ hiddenSize, numLayers }),
      batch: 1,
      promptTokens: 16,
      decodeTokens: 128,
    });
    expect(memoryShortfall(shape(4096, 32), 24e9)).toMatch(
      /^needs ~\d+\.\d GB of memory \(two sessions, each holding 2\d\.\d GB of weights.*but this machine has 24\.0 GB$/,
    );
    // Issue 27's benchmarks are not refused: 2048:16 with four sessions, 4096:8 with one per variant.
    expect(memoryShortfall(shape(2048, 16), 24e9)).toBeNull();
    expect(memoryShortfall(shape(4096, 8), 24e9)).toBeNull();
    expect(memoryShortfall(shape(128, 8), 24e9)).toBeNull();
    expect(sessionLayout(shape(2048, 16), 22e9)).toBe('abba');
    expect(sessionLayout(shape(4096, 8), 22e9)).toBe('one per variant');
    expect(sessionLayout(shape(4096, 8), 64e9)).toBe('abba');
    // Llama-3-8B at int4 (5.3 GB a graph): two sessions fit 24 GB, four do not, as ONNX Runtime's
    // packed int4 weights take more than the graph's bytes.
    const int4 = { ...shape(4096, 32), weightBytes: 5.3e9, precision: 'int4' as const };
    expect(memoryShortfall(int4, 24e9)).toBeNull();
    expect(sessionLayout(int4, 22e9)).toBe('one per variant');
  });

  it('syntheticCheckpointBytes is what the writer writes, less the files headers: the float32 weights in BF16', async () => {
    const dir = join(work, 'weights');
    await writeSyntheticCheckpoint(dir, { hiddenSize: 128, numLayers: 3 });
    const data = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => {
        const file = readFileSync(join(dir, f));
        return statSync(join(dir, f)).size - 8 - Number(file.readBigUInt64LE(0));
      });
    expect(data.reduce((a, b) => a + b, 0)).toBe(syntheticCheckpointBytes({ hiddenSize: 128, numLayers: 3 }));
    expect(2 * syntheticCheckpointBytes({ hiddenSize: 128, numLayers: 3 })).toBe(syntheticWeightBytes({ hiddenSize: 128, numLayers: 3 }));
  });
});

describe("bench's temporary checkpoint never outlives the command", () => {
  it('withTempFolder removes the folder when the work returns and when it throws', async () => {
    const tmp = tmpFolder('in-process');
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    try {
      const seen = await withTempFolder('flexibench-t-', 'test', (dir) => Promise.resolve(existsSync(dir)));
      expect(seen).toBe(true);
      await expect(withTempFolder('flexibench-t-', 'test', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(leftovers(tmp)).toEqual([]);
      expect(process.listenerCount('SIGINT')).toBe(0);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
  });

  /** Starts bench with its own $TMPDIR; resolves with its exit code and stderr once it ends. */
  function startBench(args: string[], tmp: string) {
    const child = spawn(process.execPath, [BIN, 'bench', ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const hangGuard = setTimeout(() => child.kill('SIGKILL'), 110_000);
    void ended.then(() => clearTimeout(hangGuard));
    return { child, ended, stderr: () => stderr };
  }

  async function waitFor(what: string, ready: () => boolean, ended: Promise<unknown>): Promise<void> {
    let done = false;
    void ended.then(() => (done = true));
    while (!ready()) {
      if (done) throw new Error(`bench ended before ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('SIGINT while the checkpoint is being written: exit 130, the folder removed', async () => {
    const tmp = tmpFolder('sigint');
    // 1024 x 8 layers: ~440 MB, written over a few seconds, one file at a time.
    const bench = startBench(['--synthetic', '1024:8', '--tokens', '2', '--rounds', '1'], tmp);
    const written = (): boolean => leftovers(tmp).some((d) => existsSync(join(tmp, d, 'model')) && readdirSync(join(tmp, d, 'model')).length > 0);
    await waitFor('writing the checkpoint', written, bench.ended);
    bench.child.kill('SIGINT');
    const { code, signal } = await bench.ended;
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    expect(bench.stderr()).toMatch(/\nflexibench: bench: interrupted \(SIGINT\); removed \S+flexibench-synthetic-\w+\n$/);
    expect(bench.stderr()).not.toMatch(/round 1\//);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('SIGTERM while benchmarking: exit 130, the folder removed', async () => {
    const tmp = tmpFolder('sigterm');
    const bench = startBench(['--synthetic', '128:4', '--tokens', '8', '--rounds', '1000'], tmp);
    await waitFor('the first round', () => /round 1\/1000/.test(bench.stderr()), bench.ended);
    bench.child.kill('SIGTERM');
    const { code, signal } = await bench.ended;
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    expect(bench.stderr()).toMatch(/\nflexibench: bench: interrupted \(SIGTERM\); removed \S+\n$/);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('a finished benchmark leaves nothing behind', async () => {
    const tmp = tmpFolder('finished');
    const bench = startBench(['--synthetic', '128:2', '--tokens', '2', '--rounds', '1'], tmp);
    expect((await bench.ended).code).toBe(0);
    expect(leftovers(tmp)).toEqual([]);
  });
});
