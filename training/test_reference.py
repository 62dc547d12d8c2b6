"""Self-checks of the PyTorch reference (run: /usr/bin/python3 -m training.test_reference MODEL_DIR).

1. KV-cached greedy generation gives the same tokens and gates as recomputing the whole sequence
   at every step (both variants).
2. The routed layer computes exactly docs/method.md, checked against a per-token loop.
3. layer_need.py's one-layer skip equals the model's own routing with that layer's gates forced.
4. held-out rules: training never produces an evaluation pair or sequence, and every arithmetic and
   repetition item of the harness's suites (`flexibench items`) is one by data.py's own rule.
5. training items are in the suites' formats: the harness's items rendered with the suite formats
   data.py uses (read from tasks/*.yaml) give exactly the harness's prompts and targets.
"""
import copy
import os
import random
import sys

import torch

from .checkpoint import load_dir
from .data import DATASETS, gen_addition, gen_product, gen_repetition, is_eval_pair, is_eval_sequence
from .generation import greedy, newline_ids
from .harness import suite_format, suite_items
from .layer_need import forward_skipping
from .model import mask_to_bias, rope_cos_sin
from .tokenizer import Tokenizer


def recompute_greedy(model, prompt, max_new, routing):
    ids = list(prompt)
    gates = None
    for _ in range(max_new + 1):
        x = torch.tensor([ids])
        pos = torch.arange(len(ids))[None]
        mask = torch.ones(len(ids), len(ids), dtype=torch.bool).tril()[None, None]
        with torch.no_grad():
            logits, _, g = model(x, pos, mask, routing=routing)
        gates = None if g is None else g[:, 0].T.tolist()
        if len(ids) == len(prompt) + max_new:
            break
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt):], gates


def per_token_layer(layer, x, pos_cos, pos_sin):
    """Literal docs/method.md for one routed layer, token by token (causal attention over all K/V)."""
    z = layer.input_layernorm(x)
    k, v = layer.self_attn.kv(z, pos_cos, pos_sin)
    g = torch.sigmoid(layer.router(z))
    out = []
    S = x.shape[1]
    for t in range(S):
        xt = x[:, t:t + 1]
        if g[0, t] > 0.5:
            bias = torch.zeros(1, 1, 1, S)
            bias[..., t + 1:] = float("-inf")
            h = xt + layer.self_attn.attend(z[:, t:t + 1], pos_cos[:, :, t:t + 1], pos_sin[:, :, t:t + 1], k, v, bias)
            out.append(h + g[0, t] * layer.mlp(layer.post_attention_layernorm(h)))
        else:
            out.append(xt + (1 - g[0, t]) * layer.router_proj(layer.post_attention_layernorm(xt)))
    return torch.cat(out, dim=1)


class FixedRouter(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, z):
        return self.logits


def check_layer_need_skip(model, cfg, tok):
    """forward_skipping against the model's routed forward with forced gates: g = 1 (the plain layer)
    except at the skipped positions of one layer, where g = 0 and a zero adapter leave the residual alone."""
    ids = torch.tensor([[tok.bos_id] + tok.encode("Question: What is 47 * 8?\nAnswer: 376")])
    S = ids.shape[1]
    pos = torch.arange(S)[None]
    mask = torch.ones(S, S, dtype=torch.bool).tril()[None, None]
    skip = torch.zeros(1, S, dtype=torch.bool)
    skip[0, S // 2::2] = True
    with torch.no_grad():
        full, _, _ = model(ids, pos, mask, routing=False)
        assert (forward_skipping(model, ids, pos, mask) - full).abs().max() < 1e-5
        for l in cfg["routing_layers"]:
            forced = copy.deepcopy(model)
            for layer in forced.model.layers:
                if layer.routed:
                    on = torch.full((1, S), 40.0)
                    layer.router = FixedRouter(torch.where(skip, -40.0, 40.0) if layer is forced.model.layers[l] else on)
            forced.model.layers[l].router_proj.up_proj.weight.zero_()
            want, _, _ = forced(ids, pos, mask, routing=True)
            got = forward_skipping(model, ids, pos, mask, l, skip)
            assert (got - want).abs().max() < 1e-4, (l, (got - want).abs().max())
            assert (got - full)[skip].abs().max() > 1e-3, l  # the skip changed something


def main():
    d = sys.argv[1]
    torch.manual_seed(0)
    model, cfg = load_dir(d)
    tok = Tokenizer.load(os.path.join(d, "tokenizer.json"))
    for prompt_text in ["Question: What is 12 + 7?\nAnswer:", "Copy the text: To be or not to be\nAnswer:", "Repeat the numbers: 5 17 302\nAnswer:"]:
        prompt = [tok.bos_id] + tok.encode(prompt_text)
        for routing in (True, False):
            o = greedy(model, [prompt], 12, newline_ids(tok), tok.eos_id, routing=routing, stop_on_newline=False)[0]
            ids, gates = recompute_greedy(model, prompt, len(o["ids"]), routing)
            assert ids == o["ids"], (prompt_text, routing, ids, o["ids"])
            if routing and gates:
                a, b = torch.tensor(gates), torch.tensor(o["gates"])
                assert a.shape == b.shape, (a.shape, b.shape)
                assert (a - b).abs().max() < 1e-4, (a - b).abs().max()
    print("ok: KV-cached greedy == recompute (tokens and gates)")
    # literal per-token semantics of a routed layer
    if cfg.get("routing_layers"):
        layer = copy.deepcopy(model.model.layers[cfg["routing_layers"][0]])
        with torch.no_grad():  # make the gates mixed so both paths are exercised
            layer.router.router_head.weight.normal_(0, 1.0)
            layer.router_proj.up_proj.weight.normal_(0, 0.1)
        x = torch.randn(1, 9, cfg["hidden_size"])
        cos, sin = rope_cos_sin(torch.arange(9)[None], cfg["head_dim"], cfg["rope_theta"])
        mask = torch.ones(9, 9, dtype=torch.bool).tril()[None, None]
        with torch.no_grad():
            y, _, _ = layer(x, cos, sin, mask_to_bias(mask), None, True)
            y2 = per_token_layer(layer, x, cos, sin)
            g = torch.sigmoid(layer.router(layer.input_layernorm(x)))
        assert 0 < int((g > 0.5).sum()) < 9, g
        assert (y - y2).abs().max() < 1e-4, (y - y2).abs().max()
        print("ok: routed layer == per-token docs/method.md loop")
        check_layer_need_skip(model, cfg, tok)
        print("ok: layer_need one-layer skip == routing with forced gates")
    # held-out rules
    rng = random.Random(0)
    for _ in range(20000):
        p, _ = gen_addition(rng, 1.0)
        a, b = [int(t) for t in p.split("What is ")[1].split("?")[0].split(" + ")]
        assert not is_eval_pair(a, b) and not is_eval_pair(b, a)
        p, _ = gen_product(rng)
        a, b = [int(t) for t in p.split("What is ")[1].split("?")[0].split(" * ")]
        assert not is_eval_pair(a, b) and not is_eval_pair(b, a)
        p, _ = gen_repetition(rng)
        assert not is_eval_sequence([int(t) for t in p.split(": ")[1].split("\n")[0].split()])
    # the harness's evaluation items, all of them, against the rule training avoids
    for s in ("addition", "product"):
        for it in suite_items(s, d):
            assert is_eval_pair(int(it["fields"]["a"]), int(it["fields"]["b"])), (s, it["doc_id"])
    for it in suite_items("repetition", d):
        assert is_eval_sequence([int(t) for t in it["fields"]["numbers"].split()]), it["doc_id"]
    print("ok: held-out rules")
    # the suite formats training renders its items with, against the harness's own rendering (the passage
    # suites read the corpus from the data training reads)
    for s in ("addition", "product", "repetition", "copy", "continue-writing", "xsum", "cnndm"):
        fmt = suite_format(s)
        for it in suite_items(s, d, limit=10, data_dir=DATASETS):
            assert fmt.prompt(**it["fields"]) == it["prompt"], (s, it["doc_id"])
            assert fmt.answer(**it["fields"]) == fmt.target_delimiter + it["target"], (s, it["doc_id"])
    print("ok: training's suite formats == the harness's prompts and targets")


if __name__ == "__main__":
    main()
