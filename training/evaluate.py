"""Held-out evaluation of an exported checkpoint in PyTorch (the second reference next to the ONNX engine).

    /usr/bin/python3 training/evaluate.py --model models/flexidepth-ref [--n 200] [--out eval.json]

Items follow tasks/FORMATS.md and its held-out rules: arithmetic uses evaluation pairs only
(fnv1a32("a,b") % 3 == 0), repetition uses seeds >= 1_000_000, copy and continue-writing use passages
from the last 10% of tinyshakespeare. Scores: exact match (copy, repetition, addition, product),
ROUGE-L F1 (continue-writing, indicative). Depth: layers used per generated token, read at the producing
position (FLEXIDEPTH.md), over every generated token including the stop token.
"""
import argparse
import json
import os
import random
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checkpoint import load_dir  # noqa: E402
from data import SHAKESPEARE, is_eval_pair, rand_digits  # noqa: E402
from generation import greedy, newline_ids  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402


def eval_passages():
    text = open(SHAKESPEARE, encoding="utf-8").read()
    tail = text[int(len(text) * 0.9):]
    tail = tail[tail.find("\n") + 1:]  # start at a line start
    return [ln.strip() for ln in tail.split("\n") if ln.strip()]


def items_for(suite, n):
    out = []
    if suite == "repetition":
        for i in range(n):
            rng = random.Random(1_000_000 + i)
            k = rng.randint(4, 8)
            nums = [rand_digits(rng, rng.randint(1, 3)) for _ in range(k)]
            s = " ".join(str(x) for x in nums)
            out.append((f"Repeat the numbers: {s}\nAnswer:", s))
    elif suite in ("addition", "addition2"):
        d = 3 if suite == "addition" else 2
        rng = random.Random(2_000_000 + d)
        seen = set()
        while len(out) < n:
            a, b = rng.randint(10 ** (d - 1), 10 ** d - 1), rng.randint(10 ** (d - 1), 10 ** d - 1)
            if is_eval_pair(a, b) and (a, b) not in seen:
                seen.add((a, b))
                out.append((f"Question: What is {a} + {b}?\nAnswer:", str(a + b)))
    elif suite == "product":
        pairs = [(a, b) for a in range(10, 100) for b in range(2, 10) if is_eval_pair(a, b)]
        random.Random(3_000_000).shuffle(pairs)
        for a, b in pairs[:n]:
            out.append((f"Question: What is {a} * {b}?\nAnswer:", str(a * b)))
    elif suite in ("copy", "continue"):
        lines = eval_passages()
        rng = random.Random(4_000_000 if suite == "copy" else 5_000_000)
        for _ in range(n):
            i = rng.randrange(len(lines) - 40)
            words, j = [], i
            while len(words) < 48 and j < len(lines):
                words += lines[j].split()
                j += 1
            k = rng.randint(8, 24)
            p = " ".join(words[:k])
            if suite == "copy":
                out.append((f"Copy the text: {p}\nAnswer:", p))
            else:
                out.append((f"Continue the text: {p}\nAnswer:", " ".join(words[k:k + 24])))
    return out


def rouge_l(pred, ref):
    a, b = re.findall(r"[a-z0-9]+", pred.lower()), re.findall(r"[a-z0-9]+", ref.lower())
    if not a or not b:
        return 0.0
    dp = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b):
            cur = dp[j + 1]
            dp[j + 1] = prev + 1 if x == y else max(dp[j + 1], dp[j])
            prev = cur
    lcs = dp[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


MAX_NEW = {"repetition": 48, "copy": 96, "addition": 8, "addition2": 8, "product": 8, "continue": 48}


def run_suite(model, cfg, tok, suite, n, variant, batch=50, samples=None):
    items = items_for(suite, n)
    stops = newline_ids(tok)
    L = cfg["num_hidden_layers"]
    R = len(cfg.get("routing_layers") or [])
    correct, score, depths, layer_use, ntok = 0, 0.0, [], [0] * R, 0
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        prompts = [[tok.bos_id] + tok.encode(p) for p, _ in chunk]
        outs = greedy(model, prompts, MAX_NEW[suite], stops, tok.eos_id, routing=(variant == "flexidepth"))
        for (p, ref), o, pr in zip(chunk, outs, prompts):
            text = tok.decode(o["ids"]).split("\n")[0].strip()
            if suite == "continue":
                score += rouge_l(text, ref)
            else:
                ok = text == ref.strip()
                correct += ok
                score += ok
            if samples is not None and len(samples) < 3:
                samples.append({"prompt": p, "output": text, "reference": ref})
            for j in range(len(o["ids"])):
                if variant == "flexidepth" and R:
                    g = o["gates"][len(pr) - 1 + j]
                    mask = [x > 0.5 for x in g]
                    depths.append(L - R + sum(mask))
                    for r, m in enumerate(mask):
                        layer_use[r] += m
                else:
                    depths.append(L)
                ntok += 1
    n = len(items)
    res = {"suite": suite, "variant": variant, "n": n,
           "metric": "rougeL_f1" if suite == "continue" else "exact_match", "score": score / n,
           "layers_total": L, "layers_used_mean": sum(depths) / max(1, len(depths)), "generated_tokens": ntok}
    if variant == "flexidepth" and R:
        res["routed_usage"] = sum(layer_use) / max(1, ntok * R)
        res["routed_layer_usage"] = [u / max(1, ntok) for u in layer_use]
    return res


SUITES = ["repetition", "copy", "addition", "addition2", "product", "continue"]


def evaluate_dir(model_dir, n, out_path=None, log=print, suites=SUITES, variants=("full", "flexidepth"), device="cpu"):
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    model, cfg = load_dir(model_dir)
    model.to(device)
    tok = Tokenizer.load(os.path.join(model_dir, "tokenizer.json"))
    results, samples = [], {}
    for suite in suites:
        for variant in variants:
            if variant == "flexidepth" and cfg.get("model_type") != "ddllama":
                continue
            t = time.time()
            smp = []
            r = run_suite(model, cfg, tok, suite, n, variant, samples=smp)
            r["seconds"] = round(time.time() - t, 1)
            results.append(r)
            samples[f"{suite}/{variant}"] = smp
            log(f"eval {suite:10s} {variant:10s} n={r['n']} {r['metric']} {r['score']:.3f} layers {r['layers_used_mean']:.2f}/{r['layers_total']}"
                + (f" routed usage {r['routed_usage']:.3f}" if "routed_usage" in r else "") + f" ({r['seconds']}s)")
    by = {(r["suite"], r["variant"]): r for r in results}
    retention = {s: (by[(s, "flexidepth")]["score"] / by[(s, "full")]["score"] if by.get((s, "full"), {}).get("score") else None)
                 for s in suites if (s, "flexidepth") in by and (s, "full") in by}
    summary = {"model": model_dir, "n": n, "results": results, "retention": retention, "samples": samples}
    if out_path:
        with open(out_path, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out")
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--variants", default="full,flexidepth")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    s = evaluate_dir(args.model, args.n, args.out, log=lambda *a: print(*a, file=sys.stderr, flush=True),
                     suites=args.suites.split(","), variants=args.variants.split(","), device=args.device)
    print(json.dumps({"results": s["results"], "retention": s["retention"]}, indent=1))


if __name__ == "__main__":
    main()
