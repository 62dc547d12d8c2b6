/**
 * The report's charts: Vega-Lite specs over plain rows, rendered to inline SVG in Node when the
 * report is written (no browser, no script in the page). One function per chart; each takes the
 * rows it plots, so a chart can be tested on its own.
 *
 * Every chart is drawn to fit the page's column (render-html.ts) however many studies, series and
 * suites it shows: panels wrap into rows rather than widen the chart, and legends go below. The
 * page scales a chart down only where the window is narrower than the column.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { VARIANTS } from '../src/model/variants.ts';

// Rendering without a canvas, Vega estimates text widths on the long side; label limits leave room for that.
const CONFIG = { font: 'sans-serif', view: { stroke: null }, axis: { labelLimit: 400 }, legend: { labelLimit: 360, columns: 3 } } as const;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface LayersUsedPoint {
  task: string;
  source: string;
  /** Layers used as a share of the model's layers. */
  share: number;
  lo: number | null;
  hi: number | null;
  label: string;
}

/** Vega's default categorical colours, for our series; the paper's bars are grey. */
const SERIES_COLORS = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

/** The paper's table as bars: share of layers used per task, ours beside the paper's (`paperSource`, last, grey). */
export function layersUsedChart(rows: LayersUsedPoint[], tasks: string[], paperSource: string): TopLevelSpec {
  const y = { field: 'task', type: 'nominal', sort: tasks, title: null } as const;
  const ours = [...new Set(rows.map((r) => r.source))].filter((s) => s !== paperSource);
  const scale = { domain: [...ours, paperSource], range: [...ours.map((_, i) => SERIES_COLORS[i % SERIES_COLORS.length] as string), '#a0a0a0'] };
  return {
    width: 520,
    height: { step: 14 },
    data: { values: rows },
    encoding: {
      y,
      yOffset: { field: 'source', type: 'nominal', sort: scale.domain },
      color: { field: 'source', type: 'nominal', title: null, scale, legend: { orient: 'bottom', columns: 1 } },
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          x: {
            field: 'share',
            type: 'quantitative',
            title: 'layers used per generated token (share of the model\u2019s layers)',
            scale: { domain: [0, 1] },
            axis: { format: '%' },
          },
          tooltip: [{ field: 'source' }, { field: 'task' }, { field: 'label', title: 'layers used' }],
        },
      },
      {
        mark: { type: 'rule' },
        transform: [{ filter: 'datum.lo !== null' }],
        // A channel value: the shared colour encoding would otherwise paint the rule in its bar's colour.
        encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, color: { value: 'black' } },
      },
    ],
  };
}

export interface LayerUsagePoint {
  series: string;
  suite: string;
  layer: number;
  usage: number;
}

/** Per-layer usage over the routed layers, one line per suite (the paper's "bowl"); one panel per series, two to a row. */
export function layerUsageChart(rows: LayerUsagePoint[]): TopLevelSpec {
  return {
    data: { values: rows },
    facet: { field: 'series', type: 'nominal', title: null },
    columns: 2,
    spec: {
      width: 360,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'layer', type: 'ordinal', title: 'routed layer (0-based index in the model)', axis: { labelAngle: 0 } },
        y: { field: 'usage', type: 'quantitative', title: 'share of generated tokens that ran it', scale: { domain: [0, 1] }, axis: { format: '%' } },
        color: { field: 'suite', type: 'nominal', title: 'suite', legend: { orient: 'bottom', columns: 5 } },
        tooltip: [{ field: 'suite' }, { field: 'layer' }, { field: 'usage', format: '.1%' }],
      },
    },
  };
}

export interface DepthSharePoint {
  series: string;
  suite: string;
  layers_used: number;
  share: number;
}

/** Distribution of layers used per generated token, one panel per suite. */
export function depthDistributionChart(rows: DepthSharePoint[], layersTotal: number): TopLevelSpec {
  return {
    data: { values: rows },
    facet: { field: 'suite', type: 'nominal', title: null },
    columns: 3,
    spec: {
      width: 220,
      height: 130,
      mark: { type: 'bar' },
      encoding: {
        x: {
          field: 'layers_used',
          type: 'ordinal',
          title: 'layers used',
          scale: {
            domain: Array.from({ length: layersTotal + 1 }, (_, i) => i).filter(
              (i) => rows.some((r) => r.layers_used <= i) && rows.some((r) => r.layers_used >= i),
            ),
          },
          axis: { labelAngle: 0 },
        },
        xOffset: { field: 'series', type: 'nominal' },
        y: { field: 'share', type: 'quantitative', title: 'share of tokens', axis: { format: '%' } },
        color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom' } },
        tooltip: [{ field: 'series' }, { field: 'suite' }, { field: 'layers_used' }, { field: 'share', format: '.1%' }],
      },
    },
    resolve: { axis: { x: 'independent' } },
  };
}

export interface AnswerPartPoint {
  series: string;
  suite: string;
  part: string;
  order: number;
  layers_used: number;
  tokens: number;
}

/**
 * Mean layers used on each part of the text: operands vs answer digits, copied text vs the rest.
 * Bars run sideways so the parts' names read whole on the axis.
 */
export function answerPartsChart(rows: AnswerPartPoint[]): TopLevelSpec {
  // A fixed height: Vega-Lite's step sizing collapses an independent faceted band scale into one band.
  const series = new Set(rows.map((r) => r.series)).size;
  const parts = Math.max(...[...new Set(rows.map((r) => r.suite))].map((s) => new Set(rows.filter((r) => r.suite === s).map((r) => r.part)).size));
  return {
    data: { values: rows },
    facet: { field: 'suite', type: 'nominal', title: null },
    columns: 2,
    spec: {
      width: 220,
      height: parts * (series * 8 + 8),
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'part', type: 'nominal', sort: { field: 'order' }, title: null },
        yOffset: { field: 'series', type: 'nominal' },
        x: { field: 'layers_used', type: 'quantitative', title: 'mean layers used' },
        color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } },
        tooltip: [{ field: 'series' }, { field: 'part' }, { field: 'layers_used', format: '.2f' }, { field: 'tokens' }],
      },
    },
    resolve: { scale: { y: 'independent', yOffset: 'independent' } },
  };
}

export interface SpeedPoint {
  series: string;
  suite: string;
  phase: 'prefill' | 'decode';
  tokens_per_s: number;
}

/** Prefill and decode tokens per second per suite and series, from the stored timings. */
export function speedChart(rows: SpeedPoint[]): TopLevelSpec {
  return {
    data: { values: rows },
    facet: { row: { field: 'phase', type: 'nominal', title: null } },
    spec: {
      width: 560,
      height: 150,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'suite', type: 'nominal', title: null, axis: { labelAngle: -30 } },
        xOffset: { field: 'series', type: 'nominal' },
        y: { field: 'tokens_per_s', type: 'quantitative', title: 'tokens/s' },
        color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom' } },
        tooltip: [{ field: 'series' }, { field: 'suite' }, { field: 'phase' }, { field: 'tokens_per_s', format: '.1f' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export interface DifferencePoint {
  series: string;
  item: string;
  mean: number;
  lo: number;
  hi: number;
}

/** Paired FlexiDepth − full differences with their intervals, one row per suite and metric. */
export function differenceChart(rows: DifferencePoint[]): TopLevelSpec {
  const rowEncoding = {
    y: { field: 'item', type: 'nominal', title: null, sort: null },
    yOffset: { field: 'series', type: 'nominal' },
    color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom' } },
  } as const;
  return {
    width: 520,
    height: { step: 16 },
    data: { values: rows },
    layer: [
      { mark: { type: 'rule', color: '#888', strokeDash: [4, 3] }, encoding: { x: { datum: 0, type: 'quantitative' } } },
      {
        mark: { type: 'rule' },
        encoding: { ...rowEncoding, x: { field: 'lo', type: 'quantitative', title: 'FlexiDepth \u2212 full (mean, 95% CI)' }, x2: { field: 'hi' } },
      },
      {
        mark: { type: 'point', filled: true },
        encoding: {
          ...rowEncoding,
          x: { field: 'mean', type: 'quantitative' },
          tooltip: [{ field: 'series' }, { field: 'item' }, { field: 'mean', format: '.3f' }, { field: 'lo', format: '.3f' }, { field: 'hi', format: '.3f' }],
        },
      },
    ],
  };
}

export interface QualityLayersPoint {
  /** The panel: a Table 1 table's title and metric. */
  panel: string;
  /** full, flexidepth, static or random: the mark's colour and shape. */
  variant: string;
  /** The row's method (flexidepth@T, ...), in the tooltip; FlexiDepth's points are labelled with their threshold. */
  method: string;
  threshold: number;
  layers_used: number;
  mean: number;
  lo: number;
  hi: number;
}

/** Colour and shape by variant, in VARIANTS' order. */
const VARIANT_SCALE = { domain: [...VARIANTS], range: ['#4c4c4c', '#4c78a8', '#e45756', '#54a24b'] };
const VARIANT_SHAPES = { domain: VARIANT_SCALE.domain, range: ['square', 'circle', 'triangle-up', 'diamond'] };

/**
 * Quality against compute, one panel per Table 1 table: the primary metric's mean (95% CI) against
 * the mean layers used per generated token. FlexiDepth's thresholds are a line; full depth and the
 * budget-matched comparators are points, so a comparator left of or below the line loses to the router.
 */
export function qualityLayersChart(rows: QualityLayersPoint[]): TopLevelSpec {
  const x = { field: 'layers_used', type: 'quantitative', title: 'mean layers used per generated token', scale: { zero: false } } as const;
  const y = { field: 'mean', type: 'quantitative', title: 'primary metric (mean, 95% CI)' } as const;
  const color = { field: 'variant', type: 'nominal', title: null, scale: VARIANT_SCALE, legend: { orient: 'bottom' } } as const;
  const flex = { filter: "datum.variant === 'flexidepth'" };
  return {
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null },
    columns: 3,
    spec: {
      width: 260,
      height: 200,
      layer: [
        { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
        { mark: { type: 'line' }, transform: [flex], encoding: { x, y, color, order: { field: 'threshold', type: 'quantitative' } } },
        {
          mark: { type: 'point', filled: true, size: 60 },
          encoding: {
            x,
            y,
            color,
            shape: { field: 'variant', type: 'nominal', title: null, scale: VARIANT_SHAPES, legend: { orient: 'bottom' } },
            tooltip: [
              { field: 'method' },
              { field: 'layers_used', format: '.2f' },
              { field: 'mean', format: '.3f' },
              { field: 'lo', format: '.3f' },
              { field: 'hi', format: '.3f' },
            ],
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 10 },
          transform: [flex],
          encoding: { x, y, text: { field: 'threshold', type: 'nominal' } },
        },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  };
}
