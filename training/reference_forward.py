"""PyTorch reference forward of an exported checkpoint: greedy generation with per-position routing.

    /usr/bin/python3 -m training.reference_forward --model models/flexidepth-ref --prompt "Question: What is 12 + 7?\nAnswer:" \
        [--variant flexidepth|full] [--max-new-tokens 16] [--ids 0,5,9] [--bos/--no-bos] [--stop-newline] [--threshold 0.5]

Prints one JSON document on stdout:
  {"prompt_ids", "generated_ids", "text",
   "tokens": [{"id", "text", "phase": "prompt"|"generated", "layers_used", "mask", "gates"}]}
one entry per position, prompt first, each with the gates computed at that position (the pass that
predicts the next token); the last generated token is run once more so it has gates too. Same shape
as `flexibench generate --json`, so the ONNX engine can be compared against it token by token.
`--prompt` escapes: "\\n" in the argument is a newline. Generation stops at EOS (and at the first
newline token with --stop-newline) or after --max-new-tokens.
"""
import argparse
import json
import os

import torch

from .checkpoint import load_dir
from .generation import greedy, newline_ids
from .tokenizer import Tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt")
    ap.add_argument("--ids", help="comma-separated prompt token ids (used as given, no BOS added)")
    ap.add_argument("--variant", default="flexidepth", choices=["flexidepth", "full"])
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--no-bos", action="store_true", help="do not prepend BOS to --prompt")
    ap.add_argument("--stop-newline", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg = load_dir(args.model)
    tok = Tokenizer.load(os.path.join(args.model, "tokenizer.json"))
    if args.ids:
        prompt = [int(x) for x in args.ids.split(",") if x.strip()]
    elif args.prompt is not None:
        prompt = ([] if args.no_bos else [tok.bos_id]) + tok.encode(args.prompt.replace("\\n", "\n"))
    else:
        prompt = [tok.bos_id]
    routing = args.variant == "flexidepth" and cfg.get("model_type") == "ddllama"
    o = greedy(model, [prompt], args.max_new_tokens, newline_ids(tok), tok.eos_id, routing=routing,
               threshold=args.threshold, stop_on_newline=args.stop_newline)[0]
    L = cfg["num_hidden_layers"]
    R = len(cfg.get("routing_layers") or []) if routing else 0
    all_ids = prompt + o["ids"]
    tokens = []
    for i, t in enumerate(all_ids):
        e = {"id": t, "text": tok.decode([t], skip_special=False), "phase": "prompt" if i < len(prompt) else "generated"}
        if R:
            g = o["gates"][i]
            e["gates"] = g
            e["mask"] = [x > args.threshold for x in g]
            e["layers_used"] = L - R + sum(e["mask"])
        else:
            e["gates"], e["mask"], e["layers_used"] = [], [], L
        tokens.append(e)
    print(json.dumps({"model": args.model, "variant": args.variant, "routing_layers": cfg.get("routing_layers") if R else [],
                      "prompt_ids": prompt, "generated_ids": o["ids"], "text": tok.decode(o["ids"]), "tokens": tokens}))


if __name__ == "__main__":
    main()
