import { describe, expect, it } from 'vitest';
import { renderChat } from '../src/tokenizer/chat-template.ts';

// Llama-3-Instruct's template, abridged to its message loop: the format instruction-tuned
// checkpoints ship, rendered here as transformers' apply_chat_template does.
const LLAMA3 =
  "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

describe('chat templates', () => {
  it('renders multi-turn messages with the generation prompt', () => {
    const text = renderChat(
      LLAMA3,
      [
        { role: 'user', content: 'Question: 2+2?' },
        { role: 'assistant', content: '4 ' },
        { role: 'user', content: 'Question: 3+3?' },
      ],
      { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' },
    );
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQuestion: 2+2?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nQuestion: 3+3?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('a template that does not parse names the field', () => {
    expect(() => renderChat('{% for %}', [], { bosToken: null, eosToken: null })).toThrow(/chat_template does not parse/);
  });
});
