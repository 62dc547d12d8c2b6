"""What training/ takes from the harness instead of keeping copies of it.

- `suite_items`: a suite's evaluation items from `flexibench items`. The harness owns the suites
  (tasks/*.yaml, their generators, held-out rules, --limit subsets and prompt rendering); asking it keeps
  the PyTorch side on exactly the items and token ids `flexibench run` feeds the engine. Each item is a
  dict: suite, doc_id, doc_index, prompt, prompt_ids (BOS included), reference, target (the training
  answer), max_new_tokens, stop, fields, fewshot_ids.
- `suite_format`: a suite's prompt format as tasks/NAME.yaml states it (`prompt.template`, `prompt.target`,
  `prompt.target_delimiter`), rendered as the harness renders it (tasks/suites/template.ts), for the
  generated training items of data.py: they are in no suite (training pairs, not evaluation pairs) and
  are made by the thousand per batch, so they are rendered here from the YAML rather than through
  `flexibench items`. The YAML is read with PyYAML (python3-yaml, a dependency of Debian's python3-torch).
- `decode_step_multiply_adds`: multiply-adds of decode steps as the harness counts them
  (src/model/path-cost.ts, through `flexibench path-cost`), for bench_torch.py's ideal speed ratio.
"""
import functools
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLEXIBENCH = os.path.join(ROOT, "bin", "flexibench.js")
TASKS_DIR = os.path.join(ROOT, "tasks")


def flexibench(args, stdin=None):
    """stdout of `node bin/flexibench.js ARGS` run in the repository root; a failure exits with its stderr."""
    cmd = ["node", FLEXIBENCH, *args]
    r = subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"flexibench {' '.join(args)}: {r.stderr.strip() or f'exit {r.returncode}'}")
    return r.stdout


def suite_items(suite, model_dir, limit=None, seed=0, data_dir=None):
    """The items `flexibench run --model model_dir --suites suite --limit limit --seed seed` would run."""
    # the command runs in the repository root: paths the caller gave relative to its own directory are made absolute
    args = ["items", "--suite", suite, "--model", os.path.abspath(model_dir), "--seed", str(seed)]
    if limit is not None:
        args += ["--limit", str(limit)]
    if data_dir is not None:
        args += ["--data-dir", os.path.abspath(data_dir)]
    return [json.loads(line) for line in flexibench(args).splitlines() if line.strip()]


def decode_step_multiply_adds(model_dir, steps):
    """Multiply-adds of each decode step of `model_dir`'s model, as `flexibench bench` counts them.
    steps: (keys, full_path) pairs: the keys the step's token attends to (itself included), and for the
    flexidepth variant whether each routed layer took the full path (None: the full variant)."""
    lines = "".join(json.dumps({"keys": keys, "full_path": None if full is None else [bool(x) for x in full]}) + "\n"
                    for keys, full in steps)
    out = flexibench(["path-cost", "--model", os.path.abspath(model_dir)], stdin=lines)
    costs = [int(x) for x in out.split()]
    assert len(costs) == len(steps), (len(costs), len(steps))
    return costs


# {{ and }} are literal braces, {name} a field (tasks/suites/template.ts's TOKEN)
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


def render_template(template, fields):
    def one(m):
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        if m.group(1) is None:
            raise ValueError(f"template {template!r} has a lone {m.group(0)!r}")
        return str(fields[m.group(1)])
    return _TOKEN.sub(one, template)


class SuiteFormat:
    """A suite's prompt and answer format: `prompt(**fields)` is the question the model is given,
    `answer(**fields)` what training teaches it to say after it (target delimiter + target)."""

    def __init__(self, name, prompt):
        self.name = name
        self.template = prompt["template"]
        self.target = prompt["target"]
        self.target_delimiter = prompt.get("target_delimiter", " ")  # the harness's default

    def prompt(self, **fields):
        return render_template(self.template, fields)

    def answer(self, **fields):
        return self.target_delimiter + render_template(self.target, fields)

    def item(self, **fields):
        """(prompt, answer)"""
        return self.prompt(**fields), self.answer(**fields)


@functools.lru_cache(maxsize=None)
def suite_format(name):
    """The format of the suite tasks/NAME.yaml."""
    import yaml
    path = os.path.join(TASKS_DIR, f"{name}.yaml")
    with open(path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    assert spec.get("name") == name and not spec.get("chat_template"), f"{path}: not a plain-prompt suite named {name}"
    return SuiteFormat(name, spec["prompt"])
