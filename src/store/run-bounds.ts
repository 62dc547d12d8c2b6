/**
 * Bounds on the stored values that size what a report allocates: a run's `layers_total` sizes the
 * per-depth axes and legends (charts, depth maps), and its `routing_layers` the per-layer tables.
 * flexibench writes them from a checked config.json, so a value outside these bounds means a file
 * changed outside flexibench; it is refused when the study is opened, before anything is read into
 * memory (a layers_total of 2e9 otherwise exhausts the heap in `report`).
 */
import { CONFIG_LIMITS } from '../model/config.ts';

/** The most layers a study's run may have: as many as config.json's num_hidden_layers admits. */
export const MAX_STUDY_LAYERS = CONFIG_LIMITS.layers;

/** The values of one run the bounds are about; routing layers as counted in SQL, so a huge list is never read. */
export interface RunShape {
  layersTotal: number;
  routingCount: number;
  /** Routing layers that are NULL, negative, at least layersTotal, or listed twice. */
  badRoutingCount: number;
}

/** Runs that break the bounds, worst first, at most one: a query of the `runs` table (or view) as RunShape columns plus run_id. */
export const RUNS_OUT_OF_BOUNDS_SQL = `
  SELECT * FROM (
    SELECT run_id, layers_total::BIGINT AS layers_total, len(routing_layers)::BIGINT AS routing_count,
           (len(list_filter(routing_layers, x -> x IS NULL OR x < 0 OR x >= layers_total))
            + len(list_filter(routing_layers, x -> x IS NOT NULL)) - len(list_distinct(routing_layers)))::BIGINT AS bad_routing_count
    FROM runs
  )
  WHERE layers_total NOT BETWEEN 1 AND ${MAX_STUDY_LAYERS} OR routing_count > layers_total OR bad_routing_count > 0
  ORDER BY run_id
  LIMIT 1`;

/** What is wrong with a run's layer counts, naming the field; null when they are within bounds. */
export function runShapeProblem(run: RunShape): string | null {
  const { layersTotal, routingCount, badRoutingCount } = run;
  if (!Number.isInteger(layersTotal) || layersTotal < 1 || layersTotal > MAX_STUDY_LAYERS) {
    return `layers_total ${layersTotal}, outside the 1 to ${MAX_STUDY_LAYERS} layers flexibench reads`;
  }
  if (routingCount > layersTotal) return `routing_layers listing ${routingCount} layers, more than its layers_total ${layersTotal}`;
  if (badRoutingCount > 0) return `routing_layers holding ${badRoutingCount} entries that are not distinct layers from 0 to ${layersTotal - 1}`;
  return null;
}
