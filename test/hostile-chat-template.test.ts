/**
 * Hostile chat templates (issue 26): a model folder's tokenizer_config.json carries Jinja code. The
 * template's own raise_exception, a call to nothing, a loop without end, a value or an output that
 * grows without bound: each is one UserError line naming the chat template (and the limit it ran
 * past), never a stack trace, a V8 fatal error or a hang; and the next template still renders.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { renderChat, type ChatMessage } from '../src/tokenizer/chat-template.ts';
import { CHAT_PROMPT_MAX_CHARS, CHAT_TEMPLATE_HEAP_LIMIT_MB, CHAT_TEMPLATE_TIME_LIMIT_MS } from '../src/tokenizer/chat-template-render.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { flexibenchMeasured } from './cli.ts';
import { DATA_DIR } from './shared-paths.ts';
import { tempDir } from './store-fixtures.ts';

const REFERENCE_MODEL = path.resolve(import.meta.dirname, '../models/flexidepth-ref');
const CONFIG = '/models/m/tokenizer_config.json';
const MESSAGES: ChatMessage[] = [{ role: 'user', content: 'Question: 2+2?' }];

const work = tempDir('fb-hostile-chat-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RAISES = "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}";
/** 10^12 iterations that allocate nothing: only the time limit stops it. */
const LOOPS = '{% for i in range(10**4) %}{% for j in range(10**4) %}{% for k in range(10**4) %}{% endfor %}{% endfor %}{% endfor %}';
/** A string of 2^28 characters, built as a cheap chain of halves, then written out at once: over the heap limit at one go. */
const GROWS = "{% set ns = namespace(s='x') %}{% for i in range(28) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | upper | length }}";
/** The example: a list of 10^9 numbers, past the heap limit or the time limit, whichever comes first on a busy machine. */
const RANGE = '{% for i in range(10**9) %}x{% endfor %}';
/** 2^21 characters of output, rendered quickly: over the output limit. */
const OUTPUT = "{% set ns = namespace(s='x') %}{% for i in range(21) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";

const seconds = CHAT_TEMPLATE_TIME_LIMIT_MS / 1000;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The one-line UserError `template` gives, naming CONFIG's chat_template. */
function refusal(template: string): string {
  let thrown: unknown = null;
  try {
    renderChat(template, MESSAGES, { bosToken: '<s>', eosToken: '</s>', configPath: CONFIG });
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UserError);
  const message = (thrown as UserError).message;
  expect(message).not.toMatch(/[\n\r\u001b]/);
  expect(message.startsWith(`${CONFIG}: chat_template `)).toBe(true);
  return message;
}

describe('a hostile chat template is one line naming the template', () => {
  it("quotes the template's own raise_exception message", () => {
    expect(refusal(RAISES)).toBe(`${CONFIG}: chat_template failed: "Conversation roles must alternate user/assistant/user/assistant/..."`);
  });

  it('escapes line breaks and terminal escapes in that message', () => {
    expect(refusal("{{ raise_exception('one\\ntwo\\u001b[31m\\u009b') }}")).toBe(`${CONFIG}: chat_template failed: "one\\ntwo\\u001b[31m\\u009b"`);
  });

  it.each([
    ['a call to an undefined function', '{{ no_such_function(1) }}', /failed: "Cannot call something that is not a function/],
    ['a recursive macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', /failed: "/],
    [
      'a string doubled past what a string can hold',
      "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
      /failed: "Invalid string length"/,
    ],
    ['a template that does not parse', '{% for %}', /does not parse: "/],
  ])('%s', (_what, template, why) => {
    expect(refusal(template)).toMatch(why);
  });

  it('refuses output over the limit', () => {
    expect(refusal(OUTPUT)).toBe(`${CONFIG}: chat_template rendered ${2 ** 21} characters, more than the ${CHAT_PROMPT_MAX_CHARS} any prompt needs`);
  });

  it('stops a loop without end at the time limit', () => {
    expect(refusal(LOOPS)).toBe(`${CONFIG}: chat_template did not finish within ${seconds} s (a template that loops without bound)`);
  });

  it('stops a template that grows without end at the heap limit', () => {
    expect(refusal(GROWS)).toBe(`${CONFIG}: chat_template ran past ${CHAT_TEMPLATE_HEAP_LIMIT_MB} MB of memory (a template that grows without bound)`);
  });

  it('stops a loop over range(10**9) at one limit or the other', () => {
    expect(refusal(RANGE)).toMatch(new RegExp(`chat_template (ran past ${CHAT_TEMPLATE_HEAP_LIMIT_MB} MB of memory|did not finish within ${seconds} s)`));
  });

  it('renders the next template after a renderer was stopped', () => {
    refusal(LOOPS);
    expect(renderChat("{{ bos_token }}{{ messages[0]['content'] }}", MESSAGES, { bosToken: '<s>', eosToken: null })).toBe('<s>Question: 2+2?');
  });
});

describe('the limits', () => {
  it("are the ones docs/usage.md's Limits on input states", () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../docs/usage.md'), 'utf8').replace(/\s+/g, ' ');
    const stated = `within ${seconds} s, ${CHAT_TEMPLATE_HEAP_LIMIT_MB} MB of heap and ${CHAT_PROMPT_MAX_CHARS.toLocaleString('en-US')} characters of output per prompt`;
    expect(readme).toContain(stated);
  });
});

describe("tokenizer_config.json's chat_template field", () => {
  const folder = (chatTemplate: unknown): TextTokenizer => {
    const dir = path.join(work, `field-${createHash('sha256').update(JSON.stringify(chatTemplate)).digest('hex').slice(0, 8)}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(REFERENCE_MODEL, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const config = JSON.parse(readFileSync(path.join(REFERENCE_MODEL, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: chatTemplate }));
    return TextTokenizer.load(dir);
  };

  it('takes the template named "default" from a list of named templates, as transformers does', () => {
    const tok = folder([
      { name: 'tool_use', template: 'tools' },
      { name: 'default', template: "[{{ messages[0]['content'] }}]" },
    ]);
    expect(tok.renderChat(MESSAGES)).toBe('[Question: 2+2?]');
  });

  it.each([
    [42, /: chat_template must be a string \(a Jinja template\)$/],
    [[{ name: 'tool_use', template: 'tools' }], /: this model has no chat_template; use a suite without chat_template: true$/],
  ])('refuses %j in one line naming the file', (value, why) => {
    const tok = folder(value);
    expect(() => tok.renderChat(MESSAGES)).toThrow(UserError);
    expect(() => tok.renderChat(MESSAGES)).toThrow(new RegExp(`^${escape(path.join(work, 'field-'))}[0-9a-f]{8}/tokenizer_config\\.json${why.source}`));
  });
});

describe('`items` on a chat suite with a hostile chat template in the model folder', () => {
  const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

  it.each([
    ['raise_exception', RAISES, /chat_template failed: "Conversation roles must alternate/],
    ['a loop without end', LOOPS, new RegExp(`chat_template did not finish within ${seconds} s`)],
    ['growth without end', GROWS, new RegExp(`chat_template ran past ${CHAT_TEMPLATE_HEAP_LIMIT_MB} MB of memory`)],
  ])('%s: exit 1, one line naming the template, bounded memory, no hang', (name, template, why) => {
    const model = path.join(work, `items-${name.replaceAll(' ', '-')}`);
    mkdirSync(model);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(REFERENCE_MODEL, f), path.join(model, f));
    const configFile = path.join(model, 'tokenizer_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, chat_template: template }));
    const before = sha256(configFile);
    const r = flexibenchMeasured(['items', '--suite', 'gsm8k-chat', '--model', model, '--limit', '1', '--data-dir', DATA_DIR]);
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^flexibench: ${escape(configFile)}: chat_template [^\\n]*\\n$`));
    expect(r.stderr).toMatch(why);
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(sha256(configFile)).toBe(before);
  });
});
