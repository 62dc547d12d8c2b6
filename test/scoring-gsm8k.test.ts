/**
 * GSM8K scoring against lm-evaluation-harness's gsm8k (v3) filters and exact_match. Each row was
 * checked by hand and against CPython's `re` running lm-eval's RegexFilter and exact_match logic
 * (findall, group_select, first non-empty group, strip; regexes_to_ignore, ignore_case).
 */
import { describe, expect, it } from 'vitest';
import { INVALID_ANSWER, flexibleExtract, gsm8kExactMatch, normalizeGsm8kAnswer, regexExtract, scoreGsm8k, strictMatch } from '../src/scoring/gsm8k.ts';
import { cutAtStop } from '../src/stop-strings.ts';
import { loadTaskSpec } from '../tasks/suites/spec.ts';
import { scoreSample } from '../tasks/suites/score-sample.ts';

// [case, generation, reference, strict answer, strict score, flexible answer, flexible score]
const CASES: [string, string, string, string, 0 | 1, string, 0 | 1][] = [
  ['plain strict', 'Janet sells 9 eggs.\n#### 18', 'x\n#### 18', '18', 1, '18', 1],
  ['strict comma thousands', '#### 1,000', '#### 1000', '1,000', 1, '1,000', 1],
  ['reference with comma', '#### 1000', 'so 1,000 total\n#### 1,000', '1000', 1, '1000', 1],
  ['dollar in text, strict lacks it', 'She makes $18 every day.\n#### 18', '#### 18', '18', 1, '18', 1],
  ['dollar inside strict group not matched', '#### $18', '#### 18', '[invalid]', 0, '$18', 1],
  ['flexible takes dollar amount', 'The answer is $18.', '#### 18', '[invalid]', 0, '$18.', 1],
  ['negative strict', '#### -5', '#### -5', '-5', 1, '-5', 1],
  ['negative vs positive', '#### -5', '#### 5', '-5', 0, '-5', 0],
  ['decimal equal', '#### 2.5', '#### 2.5', '2.5', 1, '2.5', 1],
  ['decimal vs integer', '#### 2.50', '#### 2.5', '2.50', 0, '2.50', 0],
  ['trailing period strict', '#### 18.', '#### 18', '18.', 1, '18.', 1],
  ['trailing period flexible', 'So the total is 18.', '#### 18', '[invalid]', 0, '18.', 1],
  ['several numbers last wins flexible', 'First 3 apples, then 4 pears, total 7', '#### 7', '[invalid]', 0, '7', 1],
  ['several numbers first wins strict', '#### 7\n#### 8', '#### 8', '7', 0, '8', 1],
  ['no number', 'I do not know.', '#### 7', '[invalid]', 0, '[invalid]', 0],
  ['strict marker missing', 'The answer is 42', '#### 42', '[invalid]', 0, '42', 1],
  ['single digit flexible', 'it is 7', '#### 7', '[invalid]', 0, '7', 1],
  ['single digit after last multi-digit', '10 then 7', '#### 7', '[invalid]', 0, '7', 1],
  ['number then trailing words', '42 apples in total', '#### 42', '[invalid]', 0, '42', 1],
  ['comma-separated list', '1,2,3', '#### 123', '[invalid]', 0, '1,2,3', 1],
  ['markdown bold', 'The answer is **18**.', '#### 18', '[invalid]', 0, '18', 1],
  ['dollars and cents', 'She pays $1,234.50 total', '#### 1234.50', '[invalid]', 0, '$1,234.50', 1],
  ['percent', 'It grew by 25%', '#### 25', '[invalid]', 0, '25', 1],
  ['negative flexible', 'The change is -12 degrees', '#### -12', '[invalid]', 0, '-12', 1],
  ['hyphen range', 'between 3-4', '#### 4', '[invalid]', 0, '-4', 0],
  ['calculator annotation', '2*3=<<2*3=6>>6 so 6', '#### 6', '[invalid]', 0, '6', 1],
  ['strict with spaces after marker', '####  18', '#### 18', '[invalid]', 0, '18', 1],
  ['strict without space', '####18', '#### 18', '[invalid]', 0, '18', 1],
  ['case insensitive irrelevant digits', '#### 18', 'X\n#### 18', '18', 1, '18', 1],
  [
    'reference full worked answer',
    "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day at the farmer's market.\n#### 18",
    'Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18',
    '18',
    1,
    '18',
    1,
  ],
  ['empty generation', '', '#### 18', '[invalid]', 0, '[invalid]', 0],
  ['only dollar sign', '$ and .', '#### 0', '[invalid]', 0, '[invalid]', 0],
  ['dots and commas only', '..,,', '#### 0', '[invalid]', 0, '..,,', 0],
  ['trailing period in reference', '#### 5', '#### 5.', '5', 1, '5', 1],
  ['leading zero', '#### 018', '#### 18', '018', 0, '018', 0],
  ['two periods', '#### 18..', '#### 18', '18..', 0, '18..', 0],
  ['newline after period', 'total 18.\n', '#### 18', '[invalid]', 0, '18.', 1],
  ['minus dollar', 'loss of -$5', '#### -5', '[invalid]', 0, '-$5', 1],
  ['big number with commas flexible', 'Total: 12,345,678 people', '#### 12345678', '[invalid]', 0, '12,345,678', 1],
  ['dash before number in list', '- 18', '#### 18', '[invalid]', 0, '18', 1],
];

describe('gsm8k extraction and exact match (lm-eval gsm8k v3)', () => {
  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES)('%s', (_name, generation, reference, strict, strictScore, flexible, flexibleScore) => {
    expect(strictMatch(generation)).toBe(strict);
    expect(flexibleExtract(generation)).toBe(flexible);
    expect(scoreGsm8k(generation, reference)).toEqual({
      strict_match: strictScore,
      flexible_extract: flexibleScore,
      strict_match_answer: strict,
      flexible_extract_answer: flexible,
    });
  });
});

describe('gsm8k normalization', () => {
  it('removes commas, dollars, everything up to the last "#### " and one final period, then lower-cases', () => {
    expect(normalizeGsm8kAnswer('a #### b\n#### $1,234.')).toBe('1234');
    expect(normalizeGsm8kAnswer('18..')).toBe('18.');
    expect(normalizeGsm8kAnswer('18.\n')).toBe('18\n');
    expect(normalizeGsm8kAnswer('ABC')).toBe('abc');
  });

  it('never matches [invalid] against a number', () => {
    expect(gsm8kExactMatch(INVALID_ANSWER, '#### 0')).toBe(0);
  });

  it('picks the first non-empty group and counts from the end for negative selections', () => {
    expect(regexExtract('a1 b22 c333', '(b[0-9]+)|([0-9]{3})', -1)).toBe('333');
    expect(regexExtract('a1 b22 c333', '(b[0-9]+)|([0-9]{3})', 0)).toBe('b22');
    expect(regexExtract('none', '([0-9]+)', 0, 'fallback')).toBe('fallback');
  });
});

describe('gsm8k suite scoring', () => {
  const spec = loadTaskSpec('gsm8k');

  it('cuts at the stop strings before extracting, as lm-eval does during generation', () => {
    const generation = ' She makes 18 dollars.\n#### 18\n\nQuestion: A farmer has 99 cows.\nAnswer: #### 99';
    expect(cutAtStop(generation, spec.generation.stop)).toBe(' She makes 18 dollars.\n#### 18\n\n');
    expect(scoreSample(spec, generation, 'x\n#### 18')).toMatchObject({ strict_match: 1, flexible_extract: 1 });
    expect(scoreSample(spec, 'It is 5<|im_end|> and 6', '#### 5')).toMatchObject({ flexible_extract: 1 });
  });
});
