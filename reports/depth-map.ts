/**
 * Token depth maps (the paper's Figure 1): a sample's text, every token shaded by the layers used
 * by the pass that produced it, prompt and generation told apart, the producing pass's gates in the
 * token's title. Long prompts are cut to their last PROMPT_TAIL tokens.
 */
import type { DepthTokenRow } from '../src/store/pattern-reads.ts';
import { escapeHtml } from './html.ts';
import type { DepthDoc } from './patterns.ts';

export const PROMPT_TAIL = 48;

export interface DepthScale {
  /** Layers every token runs (the unrouted ones). */
  min: number;
  max: number;
  routingLayers: readonly number[];
}

/** ColorBrewer's YlGnBu: pale for few layers, dark blue for many; the same scale as the legend. */
const PALETTE: readonly [number, number, number][] = [
  [255, 255, 217],
  [199, 233, 180],
  [65, 182, 196],
  [34, 94, 168],
  [8, 29, 88],
];

export function depthColor(layers: number, s: DepthScale): string {
  const t = s.max === s.min ? 1 : Math.min(1, Math.max(0, (layers - s.min) / (s.max - s.min)));
  const x = t * (PALETTE.length - 1);
  const i = Math.min(PALETTE.length - 2, Math.floor(x));
  const [a, b] = [PALETTE[i] as [number, number, number], PALETTE[i + 1] as [number, number, number]];
  const mix = a.map((v, k) => Math.round(v + (x - i) * ((b[k] as number) - v)));
  return `rgb(${mix.join(', ')})`;
}

/** White text on the darker half of the scale. */
function textColor(layers: number, s: DepthScale): string {
  return layers - s.min > (s.max - s.min) * 0.55 ? '#fff' : '#111';
}

function visible(text: string): string {
  return escapeHtml(text.replace(/\n/g, '\u21b5').replace(/\t/g, '\u21e5'));
}

function tokenTitle(t: DepthTokenRow, s: DepthScale): string {
  if (t.layers_used === null || t.gates === null) return `position ${t.position} (${t.phase}): the first token, no pass produced it`;
  const gates = t.gates.map((g, i) => `layer ${s.routingLayers[i]}: gate ${g.toFixed(3)} ${t.mask?.[i] === true ? 'ran' : 'skipped'}`);
  return [`position ${t.position} (${t.phase}), produced with ${t.layers_used} of ${s.max} layers`, ...gates].join('\n');
}

function tokenSpan(t: DepthTokenRow, s: DepthScale): string {
  const style = t.layers_used === null ? '' : ` style="background:${depthColor(t.layers_used, s)};color:${textColor(t.layers_used, s)}"`;
  return `<span class="tok ${t.phase}" data-layers="${t.layers_used ?? ''}" title="${escapeHtml(tokenTitle(t, s))}"${style}>${visible(t.text)}</span>`;
}

export function depthMapHtml(d: DepthDoc, s: DepthScale): string {
  const prompt = d.tokens.filter((t) => t.phase === 'prompt');
  const generated = d.tokens.filter((t) => t.phase === 'generated');
  const shown = prompt.slice(-PROMPT_TAIL);
  const cut = prompt.length - shown.length;
  return [
    `<div class="depthmap" data-doc="${escapeHtml(d.doc.doc_id)}">`,
    `<div class="docid">doc ${escapeHtml(d.doc.doc_id)} \u00b7 ${prompt.length} prompt + ${generated.length} generated tokens</div>`,
    `<p>${cut > 0 ? `<span class="cut">\u2026 ${cut} earlier prompt tokens \u2026</span> ` : ''}${shown.map((t) => tokenSpan(t, s)).join('')}`,
    `<span class="boundary" title="generation starts here">\u25b8</span>${generated.map((t) => tokenSpan(t, s)).join('')}</p>`,
    `</div>`,
  ].join('');
}

export function depthLegendHtml(s: DepthScale): string {
  const steps = Array.from({ length: s.max - s.min + 1 }, (_, i) => s.min + i);
  return `<div class="legend">layers used: ${steps.map((l) => `<span class="tok" style="background:${depthColor(l, s)};color:${textColor(l, s)}">${l}</span>`).join('')} of ${s.max} \u00b7 <span class="tok prompt">prompt</span> <span class="tok generated">generated</span> \u00b7 hover a token for its gates</div>`;
}
