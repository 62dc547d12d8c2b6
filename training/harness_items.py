"""A suite's evaluation items, taken from the harness (`flexibench items`), not generated here.

The harness owns the suites (tasks/*.yaml, their generators, held-out rules, --limit subsets and prompt
rendering); asking it keeps the PyTorch side on exactly the items and token ids `flexibench run` feeds
the engine. Each item is a dict: suite, doc_id, doc_index, prompt, prompt_ids (BOS included), reference,
target (the training answer), max_new_tokens, stop, fields, fewshot_ids.
"""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLEXIBENCH = os.path.join(ROOT, "bin", "flexibench.js")


def suite_items(suite, model_dir, limit=None, seed=0, data_dir=None):
    """The items `flexibench run --model model_dir --suites suite --limit limit --seed seed` would run."""
    # the command runs in the repository root: paths the caller gave relative to its own directory are made absolute
    cmd = ["node", FLEXIBENCH, "items", "--suite", suite, "--model", os.path.abspath(model_dir), "--seed", str(seed)]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    if data_dir is not None:
        cmd += ["--data-dir", os.path.abspath(data_dir)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])}: {r.stderr.strip() or f'exit {r.returncode}'}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
