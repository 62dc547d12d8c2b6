"""Export the trained run to Hugging Face layout checkpoint directories.

    /usr/bin/python3 -m training.export --run training/runs/reference --out models/flexidepth-ref [--base-out DIR]

The FlexiDepth checkpoint (model_type "ddllama") contains the frozen base weights, so its `--variant full`
is exactly the base model; the plain base export (model_type "llama") is optional.
"""
import argparse
import json
import os
import shutil

import torch

from .checkpoint import hf_config, load_dir, read_tensor_bytes, tensor_file_bytes, write_safetensors
from .model import is_flexidepth_name
from .run_dir import Run


def export_state(state, c, out_dir, tok_dir, ddllama, meta=None):
    os.makedirs(out_dir, exist_ok=True)
    sd = {k: v.float() for k, v in state.items()}
    if c.get("tie_word_embeddings", True):
        sd.pop("lm_head.weight", None)
    if not ddllama:
        sd = {k: v for k, v in sd.items() if not is_flexidepth_name(k)}
    write_safetensors(os.path.join(out_dir, "model.safetensors"), sd, {"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(c, ddllama), f, indent=2)
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tok_dir, fn), os.path.join(out_dir, fn))
    if meta:
        with open(os.path.join(out_dir, "training_summary.json"), "w") as f:
            json.dump(meta, f, indent=2)


def base_bytes(path):
    """The base tensors (everything but routers and adapters) of a safetensors file, as stored bytes."""
    return read_tensor_bytes(path, keep=lambda name: not is_flexidepth_name(name))


def assert_same_base(got, want, what):
    assert sorted(got) == sorted(want), f"{what}: base tensor names differ"
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f"{what}: base tensors differ from the source checkpoint: {bad[:5]}"


def export_run(run, out_dir, base_out=None):
    d = torch.load(run.p("flexidepth.pt"), map_location="cpu")
    tok_dir = run.p("tokenizer")
    meta = {"alpha": d["alpha"], "sweep": d.get("sweep"), "select_full": d.get("select_full"),
            "flexidepth_final_lm_ema": d.get("final_lm_ema"), "gate_estimator": d.get("gate_estimator"),
            "pretrain_steps": d.get("pretrain_steps")}
    base = torch.load(run.p("base.pt"), map_location="cpu")
    meta["pretrain_final_lm_ema"] = base.get("final_lm_ema")
    source = base.get("source")  # set when the base came from an exported checkpoint (train.py --base-from)
    if source:
        # The routers were retrained on that checkpoint's base, which must come out byte-identical. The source's
        # bytes are read before writing anything, since out_dir may be the source directory itself.
        want = base_bytes(os.path.join(source, "model.safetensors"))
        tied = d["config"].get("tie_word_embeddings", True)
        got = {k: tensor_file_bytes(v) for k, v in d["model"].items()
               if not is_flexidepth_name(k) and not (tied and k == "lm_head.weight")}
        assert_same_base(got, want, "trained state")
        meta["base_from"] = base.get("source_summary", {})
    export_state(d["model"], d["config"], out_dir, tok_dir, True, meta)
    run.log(f"export: wrote {out_dir} (ddllama, routing layers {d['config']['routing_layers']}, alpha {d['alpha']:g})")
    if source:
        assert_same_base(base_bytes(os.path.join(out_dir, "model.safetensors")), want, f"exported {out_dir}")
        run.log(f"export: base weights byte-identical to {source} ({len(want)} tensors)")
    if base_out:
        export_state(base["model"], base["config"], base_out, tok_dir, False)
        run.log(f"export: wrote {base_out} (llama base)")
    # round trip: the exported files reproduce the trained module exactly
    m, _ = load_dir(out_dir)
    ref = {k: v for k, v in d["model"].items()}
    for k, v in m.state_dict().items():
        assert torch.equal(v, ref[k].float()), k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base-out")
    args = ap.parse_args()
    export_run(Run(args.run), args.out, args.base_out)


if __name__ == "__main__":
    main()
