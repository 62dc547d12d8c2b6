// run --suites: globs and named groups expand to suite names (issue 29), in the order named, each
// once; a glob that matches nothing is refused naming what is known; names and paths pass through.
import { describe, expect, it } from 'vitest';
import { selectSuites } from '../harness/suite-selection.ts';
import { PAPER_TASKS } from '../reports/paper.ts';

describe('selectSuites', () => {
  it('expands globs over the known suites, in order, each suite once', () => {
    expect(selectSuites(['gsm*'])).toEqual(['gsm8k', 'gsm8k-chat']);
    expect(selectSuites(['copy', 'c*'])).toEqual(['copy', 'cnndm', 'continue-writing']);
    expect(selectSuites(['?sum'])).toEqual(['xsum']);
  });

  it("the paper group is the report's six task families", () => {
    const paper = selectSuites(['paper']);
    expect(paper).toEqual(PAPER_TASKS.flatMap((t) => t.suites));
    expect(paper).toEqual(['copy', 'xsum', 'cnndm', 'continue-writing', 'repetition', 'addition', 'product']);
  });

  it('a glob that matches nothing is refused, naming the known suites and groups; names and paths are left to the loader', () => {
    expect(() => selectSuites(['gsm*x'])).toThrow(/^run: --suites: 'gsm\*x' matches no suite \(known: addition, cnndm, .*; groups: paper\)$/);
    expect(selectSuites(['nosuch', 'my/task.yaml'])).toEqual(['nosuch', 'my/task.yaml']);
    // Regex characters in a glob are literal.
    expect(() => selectSuites(['gsm8k.*'])).toThrow(/matches no suite/);
  });
});
