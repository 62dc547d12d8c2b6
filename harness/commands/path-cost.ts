/**
 * `flexibench path-cost [--model DIR]`: the multiply-adds of decode steps, counted as `bench` counts
 * them for its ideal speed ratio (src/model/path-cost.ts, with the checkpoint's adapter width). Tools
 * outside the harness read the count here instead of keeping their own: training/bench_torch.py, the
 * PyTorch peer of `bench`, sends every decode step of its runs and sums what comes back.
 */
import { UserError } from '../../src/errors.ts';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { decodeStepMultiplyAdds } from '../../src/model/path-cost.ts';
import { parseJsonText } from '../../src/user-file.ts';
import { defineCommand, text, type OptionValues } from '../args.ts';
import { REFERENCE_MODEL } from '../model-options.ts';

/** The most stdin read: a step is a few dozen bytes, so this is over a million steps. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;

const OPTIONS = {
  model: text('DIR', 'the checkpoint whose shape (config.json, adapter width) the steps are counted for', {
    default: REFERENCE_MODEL,
    defaultText: 'the reference model',
  }),
};

const EPILOG = `Reads JSON Lines on stdin, one decode step per line: {"keys": T, "full_path": [true, false, ...]}, where T
is the number of keys the step's token attends to (itself included) and full_path says for each routed
layer, in layer order, whether the token took the full path; "full_path": null is a step of the full
variant. Prints one integer per step on stdout, in input order: its multiply-adds. A line that is not
such an object stops the command with exit status 1 before anything is printed.`;

interface Step {
  keys: number;
  fullPath: boolean[] | null;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_INPUT_BYTES) throw new UserError(`path-cost: stdin holds more than ${MAX_INPUT_BYTES / 2 ** 20} MiB (count the steps in parts)`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function stepOf(line: string, where: string, routedLayers: number): Step {
  const value = parseJsonText(line, where);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${where}: not a JSON object`);
  const { keys, full_path: fullPath } = value as Record<string, unknown>;
  if (typeof keys !== 'number' || !Number.isSafeInteger(keys) || keys < 1) throw new UserError(`${where}: "keys" must be a positive integer`);
  if (fullPath === null) return { keys, fullPath: null };
  if (!Array.isArray(fullPath) || fullPath.length !== routedLayers || !fullPath.every((x) => typeof x === 'boolean')) {
    throw new UserError(`${where}: "full_path" must be null (the full variant) or ${routedLayers} booleans, one per routed layer`);
  }
  return { keys, fullPath: fullPath as boolean[] };
}

async function pathCost(o: OptionValues<typeof OPTIONS>): Promise<void> {
  const ckpt = loadCheckpoint(o.model);
  const cfg = ckpt.config;
  const steps: Step[] = [];
  (await readStdin()).split('\n').forEach((line, i) => {
    if (line.trim() !== '') steps.push(stepOf(line, `stdin:${i + 1}`, cfg.routingLayers.length));
  });
  const counts = steps.map((s) => decodeStepMultiplyAdds(cfg, s.keys, s.fullPath, ckpt.adapterSize || undefined));
  process.stdout.write(counts.map((n) => `${n}\n`).join(''));
}

export const command = defineCommand({
  name: 'path-cost',
  description: 'Count the multiply-adds of decode steps (JSON Lines on stdin) as `bench` does.',
  options: OPTIONS,
  epilog: EPILOG,
  action: pathCost,
});
