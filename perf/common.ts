/**
 * Helpers shared by the measurement scripts in perf/ (not a script itself): command-line options,
 * the graph spec they name, and the process's memory as Linux reports it in /proc/self/status.
 * docs/performance.md says which script measures what.
 */
import { parseArgs } from 'node:util';
import { checkBlockSize, QUANT_BLOCK_SIZE, WEIGHT_PRECISIONS, type GraphSpec, type WeightPrecision } from '../src/model/graph-builder.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { withPrecision } from '../harness/model-options.ts';
import { procStatusBytes } from '../harness/bench/scale.ts';

/** A script's options: each a string value (or a flag), with a default or required. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  default?: string;
  required?: boolean;
}

/**
 * Parses `process.argv` against `options`. Prints `usage` and exits 2 on an unknown option, a
 * missing required one, or --help.
 */
export function options<K extends string>(usage: string, spec: Record<K, OptionSpec>): Record<K, string | boolean | undefined> {
  const fail = (why: string | null): never => {
    if (why !== null) process.stderr.write(`${why}\n`);
    process.stderr.write(`${usage.trim()}\n`);
    process.exit(why === null ? 0 : 2);
  };
  const config: Record<string, { type: 'string' | 'boolean'; default?: string }> = { help: { type: 'boolean' } };
  for (const [name, o] of Object.entries<OptionSpec>(spec)) config[name] = { type: o.type, ...(o.default !== undefined ? { default: o.default } : {}) };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: process.argv.slice(2), options: config, strict: true, allowPositionals: false }).values;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) fail(null);
  for (const [name, o] of Object.entries<OptionSpec>(spec)) if (o.required && values[name] === undefined) fail(`missing --${name}`);
  return values as Record<K, string | boolean | undefined>;
}

/** A string option's value (the caller declared it required or with a default). */
export const text = (value: string | boolean | undefined): string => {
  if (typeof value !== 'string') throw new Error('expected a string option');
  return value;
};

/** A numeric option's value; exits 2 when it is not a finite number. */
export function numeric(name: string, value: string | boolean | undefined): number {
  const n = Number(text(value));
  if (!Number.isFinite(n)) {
    process.stderr.write(`--${name} must be a number, got '${String(value)}'\n`);
    process.exit(2);
  }
  return n;
}

/** The options every graph-opening script takes: --variant, --precision, --block-size. */
export const GRAPH_OPTIONS = {
  variant: { type: 'string', default: 'flexidepth' },
  precision: { type: 'string', default: 'fp32' },
  'block-size': { type: 'string', default: String(QUANT_BLOCK_SIZE) },
} as const satisfies Record<string, OptionSpec>;

/** The graph spec of --variant (full or flexidepth), --precision and --block-size, as bench builds it. */
export function graphSpec(variant: string, precision: string, blockSize: number): GraphSpec {
  if (variant !== 'full' && variant !== 'flexidepth') throw new Error(`--variant must be full or flexidepth, got '${variant}'`);
  if (!(WEIGHT_PRECISIONS as readonly string[]).includes(precision))
    throw new Error(`--precision must be one of ${WEIGHT_PRECISIONS.join(', ')}, got '${precision}'`);
  return withPrecision({ variant }, precision as WeightPrecision, checkBlockSize(blockSize));
}

/** The process's memory now, in bytes: VmRSS (resident), RssAnon (heap, ORT's buffers), RssFile (mapped files), VmHWM (peak resident). */
export interface Memory {
  rss: number;
  anon: number;
  file: number;
  peak: number;
}

export function memory(): Memory {
  const status = procStatusBytes();
  const bytes = (field: string): number => {
    const n = status.get(field);
    if (n === undefined) throw new Error(`/proc/self/status has no ${field} (Linux only)`);
    return n;
  };
  return { rss: bytes('VmRSS'), anon: bytes('RssAnon'), file: bytes('RssFile'), peak: bytes('VmHWM') };
}

/** Bytes as GB (10^9), three decimals. */
export const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(3)} GB`;

export const describeMemory = (m: Memory): string => `rss ${gb(m.rss)} (anon ${gb(m.anon)}, file ${gb(m.file)}), peak ${gb(m.peak)}`;

/** Seconds since `start` (a performance.now() value). */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;

/** A 16-token prompt: BOS (when the model has one), then spread ids that are neither BOS nor EOS. */
export function fixedPrompt(config: Pick<ModelConfig, 'bosTokenId' | 'eosTokenIds' | 'vocabSize'>, length = 16): number[] {
  const special = new Set([...(config.bosTokenId === null ? [] : [config.bosTokenId]), ...config.eosTokenIds]);
  const ids = config.bosTokenId === null ? [] : [config.bosTokenId];
  for (let k = 0; ids.length < length; k++) {
    const id = (3 + k * 97) % config.vocabSize;
    if (!special.has(id)) ids.push(id);
  }
  return ids;
}
