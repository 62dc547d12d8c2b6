/**
 * Chat prompts: a model's Jinja chat template (tokenizer_config.json `chat_template`) rendered with
 * @huggingface/jinja, the way transformers' apply_chat_template does.
 */
import { Template } from '@huggingface/jinja';
import { UserError } from '../errors.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatTemplateContext {
  bosToken: string | null;
  eosToken: string | null;
}

/** Renders `messages` with `template`; `addGenerationPrompt` opens the assistant's turn. */
export function renderChat(template: string, messages: ChatMessage[], ctx: ChatTemplateContext, addGenerationPrompt = true): string {
  let t: Template;
  try {
    t = new Template(template);
  } catch (err) {
    throw new UserError(`tokenizer_config.json: chat_template does not parse (${(err as Error).message})`);
  }
  return t.render({
    messages,
    add_generation_prompt: addGenerationPrompt,
    bos_token: ctx.bosToken ?? '',
    eos_token: ctx.eosToken ?? '',
  });
}
