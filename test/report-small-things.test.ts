// Small things a reader trips over (issue 29): retention against a near-zero baseline says it is
// not meaningful instead of printing 142.4%, and the paper chart's intervals are the black rules
// its caption says they are.
import { describe, expect, it } from 'vitest';
import { layersUsedChart } from '../reports/charts.ts';
import { retentionCell } from '../reports/format.ts';

describe('report details', () => {
  it('retention is a percentage only against a baseline clear of zero', () => {
    expect(retentionCell(0.95, 0.8)).toBe('95.0%');
    expect(retentionCell(1.424, 0.007)).toBe('n/a (full 0.007)');
    expect(retentionCell(0, 0)).toBe('n/a (full 0.000)');
    expect(retentionCell(null, 0.5)).toBe('-');
    expect(retentionCell(0.5, undefined)).toBe('50.0%');
  });

  it("the paper chart's interval rules are black, whatever their bar's colour", () => {
    const spec = layersUsedChart([{ task: 'copy', source: 'ours', share: 0.5, lo: 0.4, hi: 0.6, label: '6/12' }], ['copy'], 'paper');
    const layers = (spec as { layer: { mark: { type: string }; encoding?: { color?: unknown } }[] }).layer;
    const rules = layers.filter((l) => l.mark.type === 'rule');
    expect(rules).toHaveLength(1);
    expect(rules[0]!.encoding?.color).toEqual({ value: 'black' });
  });
});
