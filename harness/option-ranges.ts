/**
 * The ranges of the numeric options, in one place with the reason for each bound. Every bound is
 * stated in the option's --help (harness/args.ts) and checked when the command line is parsed,
 * before anything is read or written. Where the real limit depends on the model or the machine
 * (the model's context, the memory a batch's KV caches take), the command checks that too, later,
 * and names the option the same way.
 */
import { CONFIG_LIMITS } from '../src/model/config.ts';

/**
 * --seed: the seeded generators (src/seeded-random.ts) take any safe integer, but the commands add
 * small offsets to a seed (bench's batch rows) and a seed is stored as a study's BIGINT; 2^32 seeds
 * are more than any study draws.
 */
export const SEED = { min: 0, max: 2 ** 32 - 1 } as const;

/** --limit: a subset costs nothing by itself, but the limit is stored (BIGINT); no suite comes near a million items. */
export const ITEM_LIMIT = { min: 1, max: 1_000_000 } as const;

/** --threads: intra-op threads of a session, each an OS thread; far beyond the cores of any one machine. */
export const THREADS = { min: 1, max: 256 } as const;

/**
 * run --workers: each a thread with its own model sessions. run caps the workers to the cores and
 * memory it finds (saying so), so the bound only keeps the request a number of threads.
 */
export const WORKERS = { min: 1, max: 1024 } as const;

/**
 * --batch: sequences decoded together. Past a few dozen rows a CPU step is bound by its arithmetic,
 * so more rows only add memory: 256 rows of the reference model at its full 2048 positions hold
 * 256 x 12 MiB of KV cache. Larger models are bounded further by their KV caches against the
 * memory free (worker-budget.ts).
 */
export const BATCH = { min: 1, max: 256 } as const;

/** --max-length, --max-new-tokens: no model may declare more positions than config.json's limit (the model's own is checked after). */
export const POSITIONS = { max: CONFIG_LIMITS.positions } as const;

/**
 * bench --context and --tokens: a synthetic checkpoint is sized for them, and a model of our
 * family declares at most Llama-3.1's 131,072 positions; memory is checked against the shape after.
 */
export const BENCH_POSITIONS = { min: 1, max: 131_072 } as const;

/** bench --rounds: each round runs all four sessions; a thousand rounds is hours of a long benchmark. */
export const ROUNDS = { min: 1, max: 1000 } as const;

/**
 * report --bootstrap-samples: each estimate holds its replicates (a few float64 arrays of this
 * length) and draws n per replicate, so memory and time grow with it; 100,000 replicates already
 * give percentiles far finer than the intervals' own noise.
 */
export const BOOTSTRAP_SAMPLES = { min: 1, max: 100_000 } as const;

/** generate --temperature: above a few dozen every token is about equally likely, so larger values change nothing. */
export const TEMPERATURE = { min: 0, max: 100 } as const;

/** run --num-fewshot: lm-eval's tasks use at most a few dozen examples; a prompt must still fit the model's context, which run checks per sample. */
export const FEWSHOT = { min: 0, max: 256 } as const;

/** run --static-layers: no more than a model may have layers (the checkpoint's routed layers are checked after). */
export const STATIC_LAYERS = { min: 1, max: CONFIG_LIMITS.layers } as const;

/** run --thresholds: each threshold is a whole FlexiDepth run of every suite. */
export const MAX_THRESHOLDS = 100;
