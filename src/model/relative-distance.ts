/**
 * The largest difference between `a` and `ref`, over the largest magnitude of `ref`: how far a lossy
 * graph's outputs (logits, gates) are from float32's. The precision tests bound it and
 * perf/logit-dist.ts measures it for docs/performance.md, so both state the same measure.
 */
export function relativeDistance(a: Float32Array, ref: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - ref[i]!));
    m = Math.max(m, Math.abs(ref[i]!));
  }
  return d / m;
}
