/**
 * A run's id is a hash of what makes it distinct (model, variant, suite and its config, seed, limit,
 * threshold, generation settings), so rerunning the same command finds the same run and resumes it.
 * The JSON is canonical (keys sorted at every depth) so the id does not depend on key order.
 */
import { createHash } from 'node:crypto';

export interface RunIdentity {
  modelHash: string;
  variant: 'full' | 'flexidepth';
  suite: string;
  suiteConfigHash: string;
  seed: number;
  limit: number | null;
  threshold: number;
  generation: Record<string, unknown>;
}

/** JSON with object keys sorted; `undefined` members are dropped, as JSON.stringify does. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  const toJSON = (value as { toJSON?: unknown } | null)?.toJSON;
  if (typeof toJSON === 'function') return sortKeys(toJSON.call(value));
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** First 16 hex digits of sha256(stableJson(identity)). */
export function runIdOf(identity: RunIdentity): string {
  return createHash('sha256').update(stableJson(identity)).digest('hex').slice(0, 16);
}
