/**
 * `run --shard K/N`: which of a suite's items this shard runs. Pure: the same items give the same
 * partition on every machine, whatever --workers, --batch or the items' order.
 *
 * The partition ranks a suite's items by the sha256 of their doc id (ties, which only identical ids
 * could make, by the id itself) and deals the ranks out in turn: rank r goes to shard (r mod N) + 1.
 * So the shards are disjoint, cover every item, and differ in size by at most one, even for a
 * handful of items (a plain hash mod N leaves small studies lopsided). Which shard an item lands in
 * depends on the doc id and the set of items the study takes (after --limit's seeded subset, which
 * every shard computes alike), never on an item's position.
 *
 * `auto/N` takes K from the scheduler: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job,
 * 0..completions-1) or else SLURM_ARRAY_TASK_ID, read as 0-based too: submit the array as
 * `sbatch --array=0-<N-1>`. Both are converted to the 1-based K. An index outside 0..N-1 is refused
 * (an array submitted as 1-N fails on its last task instead of silently skipping shard 1).
 */
import { createHash } from 'node:crypto';
import { UserError } from '../../src/errors.ts';

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** The scheduler variables `auto/N` reads, first found wins; both hold a 0-based index. */
export const SHARD_INDEX_VARIABLES = ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'] as const;

export function shardText(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

const WHOLE_NUMBER = /^(0|[1-9]\d*)$/;

/** Parses --shard (`K/N`, 1-based, or `auto/N`); every refusal is one line. */
export function parseShard(text: string, env: Readonly<Record<string, string | undefined>>): Shard {
  const bad = (why: string): UserError => new UserError(`run: --shard must be K/N with 1 <= K <= N, or auto/N; got '${text}' (${why})`);
  const parts = text.split('/');
  if (parts.length !== 2) throw bad('no single /');
  const [k, n] = parts as [string, string];
  if (!WHOLE_NUMBER.test(n) || Number(n) < 1 || !Number.isSafeInteger(Number(n))) throw bad('N is not a whole number >= 1');
  const count = Number(n);
  if (k === 'auto') return { index: indexFromScheduler(count, env), count };
  if (!WHOLE_NUMBER.test(k) || Number(k) < 1) throw bad('K is not a whole number >= 1');
  if (Number(k) > count) throw bad('K is more than N');
  return { index: Number(k), count };
}

function indexFromScheduler(count: number, env: Readonly<Record<string, string | undefined>>): number {
  for (const name of SHARD_INDEX_VARIABLES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (!WHOLE_NUMBER.test(value.trim()) || Number(value) >= count) {
      const slurm = name === 'SLURM_ARRAY_TASK_ID' ? ` (submit the array as --array=0-${count - 1})` : '';
      throw new UserError(`run: --shard auto/${count}: ${name} is '${value}', not a 0-based index below ${count}${slurm}`);
    }
    return Number(value) + 1;
  }
  throw new UserError(
    `run: --shard auto/${count} reads the shard index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job array); neither is set`,
  );
}

function idHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** The 0-based shard (of `count`) of each id, by rank of its hash. */
export function shardIndexes(ids: readonly string[], count: number): number[] {
  const order = ids.map((id, i) => ({ i, id, h: idHash(id) }));
  order.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : a.i - b.i));
  const shardOf = new Array<number>(ids.length);
  order.forEach((o, rank) => (shardOf[o.i] = rank % count));
  return shardOf;
}

/** The items of `shard`, in their original order. */
export function itemsOfShard<T>(items: readonly T[], idOf: (item: T) => string, shard: Shard): T[] {
  const shards = shardIndexes(items.map(idOf), shard.count);
  return items.filter((_, i) => shards[i] === shard.index - 1);
}
