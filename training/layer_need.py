"""How much each task's generated tokens need each routed layer, measured on the base model alone.

    /usr/bin/python3 -m training.layer_need --model models/flexidepth-ref [--limit 200] [--seed 0] [--out need.json]

The routers are trained to skip a layer where skipping costs little language-modelling loss, so what
they can learn is bounded by how much the base model's own layers matter for each task's tokens.
This measures that directly, without the routers.

The items are the harness's (`flexibench items`: the suite's seeded --limit subset, with the prompts and
token ids `flexibench run` feeds the engine). For each item, the full-depth model's greedy answer is
teacher-forced; then, one routed layer at a time, that layer is skipped at the answer's producing
positions only (the token's own update is left out, its K/V are still computed, as in a FlexiDepth skip
and in the base model's stochastic-depth pre-training; the skipped token keeps its residual, so this is
a property of the base model only).
Measured per answer token: on the full model's own greedy answer, KL(full || skipped) in nats and the
share of tokens whose greedy choice changes; on the reference answer (the training target, what the
routers' L_lm sees), the rise in its negative log-likelihood.
"""
import argparse
import json
import os
import time

import torch

from .checkpoint import load_dir
from .generation import greedy, newline_ids
from .harness import suite_items
from .tokenizer import Tokenizer

SUITES = ["repetition", "copy", "addition", "product", "continue-writing"]


def forward_skipping(model, ids, pos, mask, layer_index=None, skip=None):
    """The model's full-depth forward [B,S,V] logits, except that layer `layer_index` leaves out its
    update (keeps the residual) where `skip` [B,S] is True."""
    hook = None
    if layer_index is not None:
        def keep_residual(layer, args, out):
            return (torch.where(skip[..., None], args[0], out[0]),) + out[1:]
        hook = model.model.layers[layer_index].register_forward_hook(keep_residual)
    try:
        return model(ids, pos, mask, routing=False)[0]
    finally:
        if hook is not None:
            hook.remove()


def batch_tensors(seqs, starts, ends):
    """Right-padded ids, positions, causal mask (bool), and the producing positions starts[b] .. ends[b]-1."""
    S = max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (S - len(s)) for s in seqs])
    valid = torch.tensor([[True] * len(s) + [False] * (S - len(s)) for s in seqs])
    produce = torch.zeros(len(seqs), S, dtype=torch.bool)
    for b, (a, e) in enumerate(zip(starts, ends)):
        produce[b, a:e] = True
    pos = torch.arange(S)[None].expand(len(seqs), S)
    mask = torch.ones(S, S, dtype=torch.bool).tril()[None, None] & valid[:, None, None, :]
    return ids, pos, mask, produce


@torch.no_grad()
def suite_need(model, tok, suite, items, batch=50):
    """Per skipped layer, per answer token: KL and changed greedy tokens on the full model's own answer,
    NLL rise on the reference answer; and their sums over the layers. `items` are the harness's."""
    stops = newline_ids(tok)  # every suite measured here stops at a newline, as the harness's configs say
    assert all(it["stop"] == ["\n"] for it in items), f"{suite}: layer_need expects suites that stop at a newline"
    L = len(model.model.layers)
    layers = model.routing_layers or list(range(L // 2, L))  # a plain Llama: its second half
    acc = {l: {"kl": 0.0, "changed": 0.0, "nll_rise": 0.0} for l in layers}
    n_own, n_ref, nll_full = 0, 0, 0.0
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        prompts = [it["prompt_ids"] for it in chunk]
        outs = greedy(model, prompts, chunk[0]["max_new_tokens"], stops, tok.eos_id, routing=False)
        own = [p + o["ids"] for p, o in zip(prompts, outs)]
        ids, pos, mask, produce = batch_tensors(own, [len(p) - 1 for p in prompts], [len(s) - 1 for s in own])
        full_lp = torch.log_softmax(forward_skipping(model, ids, pos, mask)[produce], -1)
        full_top = full_lp.argmax(-1)
        # the reference answer exactly as in training: " answer\n" then EOS
        refs = [p + tok.encode(" " + it["target"].strip() + "\n") + [tok.eos_id] for p, it in zip(prompts, chunk)]
        rids, rpos, rmask, rprod = batch_tensors(refs, [len(p) - 1 for p in prompts], [len(s) - 1 for s in refs])
        target = rids[:, 1:][rprod[:, :-1]][:, None]

        def ref_nll(layer_index=None):
            logits = forward_skipping(model, rids, rpos, rmask, layer_index, rprod)
            return -torch.log_softmax(logits[rprod], -1).gather(1, target)

        full_nll = ref_nll()
        n_own += int(produce.sum())
        n_ref += int(rprod.sum())
        nll_full += float(full_nll.sum())
        for l in layers:
            lp = torch.log_softmax(forward_skipping(model, ids, pos, mask, l, produce)[produce], -1)
            acc[l]["kl"] += float((full_lp.exp() * (full_lp - lp)).sum())
            acc[l]["changed"] += float((lp.argmax(-1) != full_top).sum())
            acc[l]["nll_rise"] += float((ref_nll(l) - full_nll).sum())
    per = {str(l): {"kl": v["kl"] / n_own, "changed": v["changed"] / n_own, "nll_rise": v["nll_rise"] / n_ref}
           for l, v in acc.items()}
    return {"suite": suite, "items": len(items), "own_answer_tokens": n_own, "reference_tokens": n_ref,
            "reference_nll_full": nll_full / n_ref, "per_layer": per,
            **{f"{k}_sum": sum(v[k] for v in per.values()) for k in ("kl", "changed", "nll_rise")}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--limit", type=int, default=200, help="items per suite: the harness's seeded subset (flexibench items --limit)")
    ap.add_argument("--seed", type=int, default=0, help="seed of that subset (flexibench items --seed)")
    ap.add_argument("--data-dir", help="dataset directory for the harness (default: $FLEXIBENCH_DATA_DIR)")
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    model, cfg = load_dir(args.model)
    model.eval()
    tok = Tokenizer.load(os.path.join(args.model, "tokenizer.json"))
    res = []
    started = time.time()
    print("per answer token, summed over the skipped layers one at a time; own answer = the full model's greedy answer")
    print(f"{'suite':16s} {'tokens':>6s} {'NLL ref':>8s} {'+NLL ref':>8s} {'KL own':>7s} {'changed':>7s}")
    for s in args.suites.split(","):
        r = suite_need(model, tok, s, suite_items(s, args.model, args.limit, args.seed, args.data_dir))
        res.append(r)
        print(f"{s:16s} {r['own_answer_tokens']:6d} {r['reference_nll_full']:8.3f} {r['nll_rise_sum']:8.3f} {r['kl_sum']:7.3f} "
              f"{r['changed_sum']:7.3f}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "limit": args.limit, "seed": args.seed, "suites": args.suites,
                       "seconds": round(time.time() - started, 1), "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
