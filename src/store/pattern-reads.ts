/**
 * Reads of a study's layer patterns for the report (reports/patterns.ts shapes them): per-layer
 * usage, the distribution of layers used, and token rows with their producing-position depth.
 * Only FlexiDepth runs have patterns; a full run's depth is every layer by construction.
 *
 * Every depth here is the producing-position depth (docs/method.md, "Which token a depth belongs
 * to"): token p is shaded, counted and binned with the row at p-1, the pass that produced it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { GENERATED_WITH_PRODUCER } from './producing-positions.ts';

/** One sample's use of one routed layer: a cluster of the per-layer usage's bootstrap. */
export interface LayerUsageRow {
  run_id: string;
  doc_id: string;
  /** 0-based index into the run's routing layers. */
  routed_index: number;
  /** Generated tokens of the sample whose producing pass ran this layer. */
  ran: number;
  /** Generated tokens of the sample. */
  tokens: number;
}

export interface DepthCountRow {
  run_id: string;
  layers_used: number;
  tokens: number;
}

export interface DepthTokenRow {
  run_id: string;
  doc_id: string;
  position: number;
  text: string;
  phase: 'prompt' | 'generated';
  /** Of the pass that produced this token; null for position 0 (nothing produced it). */
  layers_used: number | null;
  gates: number[] | null;
  mask: boolean[] | null;
}

export interface DepthDocRow {
  run_id: string;
  doc_id: string;
  doc_index: number;
  output: string;
  reference: string;
}

type Row = Record<string, unknown>;

async function rows(conn: DuckDBConnection, sql: string, params: string[] = []): Promise<Row[]> {
  return (await conn.runAndReadAll(sql, params)).getRowObjectsJS() as Row[];
}

/** Generated tokens of done FlexiDepth samples joined to the row that produced them (alias p). */
const FLEXIDEPTH_GENERATED_WITH_PRODUCER = `${GENERATED_WITH_PRODUCER}
  AND g.run_id IN (SELECT run_id FROM runs WHERE variant = 'flexidepth')`;

export async function readLayerUsage(conn: DuckDBConnection): Promise<LayerUsageRow[]> {
  const sql = `
    SELECT run_id, doc_id, (i - 1)::INTEGER AS routed_index, sum(used)::DOUBLE AS ran, count(*)::DOUBLE AS tokens
    FROM (SELECT g.run_id, g.doc_id, generate_subscripts(p.mask, 1) AS i, unnest(p.mask)::INTEGER AS used ${FLEXIDEPTH_GENERATED_WITH_PRODUCER})
    GROUP BY run_id, doc_id, i ORDER BY run_id, doc_id, i`;
  return (await rows(conn, sql)).map((r) => ({
    run_id: String(r.run_id),
    doc_id: String(r.doc_id),
    routed_index: Number(r.routed_index),
    ran: Number(r.ran),
    tokens: Number(r.tokens),
  }));
}

export async function readDepthCounts(conn: DuckDBConnection): Promise<DepthCountRow[]> {
  const sql = `
    SELECT g.run_id, p.layers_used::INTEGER AS layers_used, count(*)::DOUBLE AS tokens ${FLEXIDEPTH_GENERATED_WITH_PRODUCER}
    GROUP BY g.run_id, p.layers_used ORDER BY g.run_id, p.layers_used`;
  return (await rows(conn, sql)).map((r) => ({ run_id: String(r.run_id), layers_used: Number(r.layers_used), tokens: Number(r.tokens) }));
}

export interface DepthTokenQuery {
  /** Only FlexiDepth runs of these suites. */
  suites: readonly string[];
  /** The first N done documents of each run (by document order); null for all. */
  docsPerRun: number | null;
}

const SELECTED_DOCS = `
  SELECT s.run_id, s.doc_id, s.doc_index, s.output, s.reference,
         row_number() OVER (PARTITION BY s.run_id ORDER BY s.doc_index, s.doc_id) AS k
  FROM samples s JOIN runs r ON r.run_id = s.run_id
  WHERE s.status = 'done' AND r.variant = 'flexidepth' AND list_contains(from_json($1, '["VARCHAR"]'), r.suite)`;

const limitClause = (q: DepthTokenQuery): string => (q.docsPerRun === null ? '' : `WHERE k <= ${Math.trunc(q.docsPerRun)}`);

/** The selected documents, in document order within each run. */
export async function readDepthDocs(conn: DuckDBConnection, q: DepthTokenQuery): Promise<DepthDocRow[]> {
  const sql = `SELECT * FROM (${SELECTED_DOCS}) ${limitClause(q)} ORDER BY run_id, k`;
  return (await rows(conn, sql, [JSON.stringify(q.suites)])).map((r) => ({
    run_id: String(r.run_id),
    doc_id: String(r.doc_id),
    doc_index: Number(r.doc_index),
    output: String(r.output),
    reference: String(r.reference),
  }));
}

/** Every token of the selected documents with its producing depth, in document and position order. */
export async function readDepthTokens(conn: DuckDBConnection, q: DepthTokenQuery): Promise<DepthTokenRow[]> {
  const sql = `
    WITH docs AS (SELECT * FROM (${SELECTED_DOCS}) ${limitClause(q)})
    SELECT t.run_id, t.doc_id, t.position, t.text, t.phase, p.layers_used, p.gates, p.mask
    FROM tokens t
    JOIN docs d ON d.run_id = t.run_id AND d.doc_id = t.doc_id
    LEFT JOIN tokens p ON p.run_id = t.run_id AND p.doc_id = t.doc_id AND p.position = t.position - 1
    ORDER BY t.run_id, d.k, t.position`;
  return (await rows(conn, sql, [JSON.stringify(q.suites)])).map((r) => ({
    run_id: String(r.run_id),
    doc_id: String(r.doc_id),
    position: Number(r.position),
    text: String(r.text),
    phase: r.phase as DepthTokenRow['phase'],
    layers_used: r.layers_used === null ? null : Number(r.layers_used),
    gates: r.gates === null ? null : (r.gates as unknown[]).map(Number),
    mask: r.mask === null ? null : (r.mask as unknown[]).map(Boolean),
  }));
}
