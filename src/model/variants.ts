/**
 * The variants a run can be and FlexiDepth's default routing threshold, defined once here for the
 * graph builder, the store, the runner, the reports and the commands:
 * - `full`: every layer, the routers ignored; `flexidepth`: each routed layer runs a token when its
 *   gate is above the threshold (docs/method.md);
 * - the comparators `static` and `random`, matched to a study's FlexiDepth runs at each threshold
 *   (docs/method.md, "Comparators"; harness/runner/comparators.ts).
 */
import { sqlList } from '../sql-literal.ts';

/**
 * Every variant, in the order the reports list them (full, FlexiDepth, then the comparators). The
 * `runs` table admits exactly these (VARIANTS_SQL in its CHECK constraint): DuckDB cannot alter a
 * CHECK, so another variant needs a schema migration that rebuilds the table (src/store/schema.ts).
 */
export const VARIANTS = ['full', 'flexidepth', 'static', 'random'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The variants a checkpoint alone defines; the comparators are matched to a study's FlexiDepth runs. */
export const MODEL_VARIANTS = ['full', 'flexidepth'] as const satisfies readonly Variant[];
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** The comparator variants, each matched to FlexiDepth's layer budget at one threshold; in Table 1's order (static before random). */
export const COMPARATOR_VARIANTS = ['static', 'random'] as const satisfies readonly Variant[];
export type ComparatorVariant = (typeof COMPARATOR_VARIANTS)[number];

export const isModelVariant = (variant: string): variant is ModelVariant => (MODEL_VARIANTS as readonly string[]).includes(variant);
export const isComparator = (variant: string): variant is ComparatorVariant => (COMPARATOR_VARIANTS as readonly string[]).includes(variant);

/** VARIANTS as an SQL list, `('full', 'flexidepth', 'static', 'random')`: what the `runs` table's CHECK admits. */
export const VARIANTS_SQL = sqlList(VARIANTS);

/**
 * FlexiDepth's default routing threshold: a routed layer runs a token when its gate is above it.
 * Also the value stored, and hashed into the run id, for a run whose graph compares no gate (full).
 */
export const DEFAULT_THRESHOLD = 0.5;
