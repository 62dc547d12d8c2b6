/**
 * A run's id is a hash of what makes it distinct (model, variant, suite and its config, seed, limit,
 * threshold, generation settings, weight precision), so rerunning the same command finds the same run and resumes it.
 * The JSON is canonical (src/canonical-json.ts) so the id does not depend on key order.
 */
import { stableJsonHash } from '../canonical-json.ts';
import type { Variant } from '../model/variants.ts';

export interface RunIdentity {
  modelHash: string;
  variant: Variant;
  suite: string;
  suiteConfigHash: string;
  seed: number;
  limit: number | null;
  threshold: number;
  generation: Record<string, unknown>;
  /** Comparator runs only (absent otherwise, so other runs keep their ids): what they compute beyond the variant. */
  comparator?: Record<string, unknown>;
  /** The weights' precision when not fp32 (absent for fp32, so runs from before precisions keep their ids). */
  precision?: 'fp16' | 'int8' | 'int4';
  /** The quantization block size of int8/int4 when not the default. */
  block_size?: number;
}

/** First 16 hex digits of the identity's canonical JSON hash. */
export function runIdOf(identity: RunIdentity): string {
  return stableJsonHash(identity).slice(0, 16);
}
