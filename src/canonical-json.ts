/**
 * Canonical JSON: the text JSON.stringify gives (toJSON applied, undefined members dropped), with
 * object keys sorted at every depth, so equal data gives equal text whatever the key order.
 *
 * Run ids and suite config hashes are hashes of this text and are stored in every study: a change
 * here changes them, and rerunning an old study would start new runs instead of resuming.
 */
import { createHash } from 'node:crypto';

export function stableJson(value: unknown): string {
  const text = JSON.stringify(sortKeys(value)) as string | undefined;
  if (text === undefined) throw new Error(`stableJson: ${typeof value} has no JSON form`);
  return text;
}

/** sha256 of the canonical JSON, as 64 hex digits. */
export function stableJsonHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
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
