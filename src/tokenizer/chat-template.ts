/**
 * Chat prompts: a model's Jinja chat template (tokenizer_config.json `chat_template`) rendered with
 * @huggingface/jinja, the way transformers' apply_chat_template does, under a bound on time and
 * memory (chat-template-sandbox.ts). Any failure, the template's own raise_exception included, is a
 * one-line UserError naming the template.
 */
import { UserError } from '../errors.ts';
import { renderBounded } from './chat-template-sandbox.ts';
import type { ChatMessage } from './chat-template-render.ts';

export type { ChatMessage } from './chat-template-render.ts';

export interface ChatTemplateContext {
  bosToken: string | null;
  eosToken: string | null;
  /** The tokenizer_config.json the template comes from, for errors. */
  configPath?: string;
}

/** Renders `messages` with `template`; `addGenerationPrompt` opens the assistant's turn. */
export function renderChat(template: string, messages: ChatMessage[], ctx: ChatTemplateContext, addGenerationPrompt = true): string {
  const reply = renderBounded({
    template,
    messages,
    addGenerationPrompt,
    bosToken: ctx.bosToken ?? '',
    eosToken: ctx.eosToken ?? '',
  });
  if ('failure' in reply) throw new UserError(`${ctx.configPath ?? 'tokenizer_config.json'}: chat_template ${reply.failure}`);
  return reply.text;
}
