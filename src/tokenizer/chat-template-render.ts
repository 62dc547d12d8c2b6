/**
 * One chat template rendered with @huggingface/jinja, the way transformers' apply_chat_template
 * does, every failure turned into one line; and the limits a render runs under. Nothing here
 * enforces time or memory: chat-template-sandbox.ts runs this in a child process that is stopped
 * past either limit.
 */
import { Template } from '@huggingface/jinja';
import { quoteValue } from '../quote-value.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRenderRequest {
  template: string;
  messages: ChatMessage[];
  bosToken: string;
  eosToken: string;
  /** Whether the prompt ends by opening the assistant's turn. */
  addGenerationPrompt: boolean;
}

/** The prompt text, or why there is none: one line that completes "chat_template ...". */
export type ChatRenderReply = { text: string } | { failure: string };

/**
 * Time a render may take. A real template writes one prompt from a few messages; one still running
 * after this loops without bound, and refusing it must take seconds, not the user's patience.
 */
export const CHAT_TEMPLATE_TIME_LIMIT_MS = 2_000;

/**
 * Heap the rendering process may use, in MB. The interpreter, a real template and a prompt of
 * CHAT_PROMPT_MAX_CHARS fit many times over; a template that builds more grows without bound, and
 * the limit keeps a refusal well under the 1 GB it may cost.
 */
export const CHAT_TEMPLATE_HEAP_LIMIT_MB = 128;

/**
 * Characters a rendered prompt may hold. A prompt must fit a model's context (Llama-3.1 declares
 * 131,072 tokens, English averages under 5 characters per token), so a longer one comes from a
 * template that grows without bound.
 */
export const CHAT_PROMPT_MAX_CHARS = 1_000_000;

/** Characters of an error message quoted: enough for any real template's raise_exception, one line on a screen or two. */
const MESSAGE_MAX_CHARS = 300;

/** The template parsed last: a run renders every prompt with the same one. */
let lastParsed: { template: string; program: Template } | null = null;

export function renderChatTemplate(req: ChatRenderRequest): ChatRenderReply {
  let program: Template;
  try {
    program = lastParsed !== null && lastParsed.template === req.template ? lastParsed.program : new Template(req.template);
  } catch (err) {
    return { failure: `does not parse: ${quote(err)}` };
  }
  lastParsed = { template: req.template, program };
  let text: string;
  try {
    text = program.render({
      messages: req.messages,
      add_generation_prompt: req.addGenerationPrompt,
      bos_token: req.bosToken,
      eos_token: req.eosToken,
    });
  } catch (err) {
    // The template's own raise_exception('...') (the library's global, which a render cannot
    // replace) throws its message as an Error, like the library's own failures: both are quoted.
    return { failure: `failed: ${quote(err)}` };
  }
  if (text.length > CHAT_PROMPT_MAX_CHARS) {
    return { failure: `rendered ${text.length} characters, more than the ${CHAT_PROMPT_MAX_CHARS} any prompt needs` };
  }
  return { text };
}

/** An error's message (the template's own, or the library's quoting the template) as a JSON string: one line, no control character. */
function quote(err: unknown): string {
  return quoteValue(err instanceof Error ? err.message : String(err), MESSAGE_MAX_CHARS);
}
