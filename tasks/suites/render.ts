/**
 * Prompt rendering. Plain form, as lm-evaluation-harness builds a few-shot context:
 *   example₁ question + target_delimiter + target, delimiter, ..., delimiter, item question
 * Chat form (chat_template: true; lm-eval's --apply_chat_template --fewshot_as_multiturn):
 *   [system], then each example as a user turn (question) and an assistant turn (target), then
 *   the item's question as the last user turn. Applying the model's own chat template to these
 *   messages is the tokenizer's job (src/tokenizer/).
 */
import type { ChatMessage } from '../../src/tokenizer/chat-template.ts';
import type { Item } from './item.ts';
import type { TaskSpec } from './spec.ts';
import { renderTemplate } from './template.ts';

export type Prompt = string | ChatMessage[];

export function renderPrompt(spec: TaskSpec, item: Item, examples: readonly Item[]): Prompt {
  const question = (it: Item): string => renderTemplate(spec.prompt.template, it.fields);
  const target = (it: Item): string => renderTarget(spec, it);
  if (spec.chat_template) {
    const messages: ChatMessage[] = [];
    if (spec.prompt.system !== undefined) messages.push({ role: 'system', content: renderTemplate(spec.prompt.system, item.fields) });
    for (const ex of examples) {
      messages.push({ role: 'user', content: question(ex) });
      messages.push({ role: 'assistant', content: target(ex) });
    }
    messages.push({ role: 'user', content: question(item) });
    return messages;
  }
  if (examples.length === 0) return question(item);
  const targetDelimiter = spec.prompt.target_delimiter ?? ' ';
  const delimiter = spec.fewshot.delimiter ?? '\n\n';
  const shots = examples.map((ex) => question(ex) + targetDelimiter + target(ex));
  return shots.join(delimiter) + delimiter + question(item);
}

/** What a few-shot example answers with: the answer the model is trained to produce. */
export function renderTarget(spec: TaskSpec, item: Item): string {
  return renderTemplate(spec.prompt.target, item.fields);
}

export function renderReference(spec: TaskSpec, item: Item): string {
  return renderTemplate(spec.prompt.reference, item.fields);
}
