"""A training run's directory: its files, its log (RUN/log.txt, also on stderr) and its metrics (RUN/metrics.jsonl).

Shared by train.py, which writes a run, and export.py, which reads one.
"""
import json
import os
import sys
import time

import torch


class Run:
    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.logf = open(os.path.join(path, "log.txt"), "a")
        self.metf = open(os.path.join(path, "metrics.jsonl"), "a")

    def log(self, *a):
        msg = time.strftime("%H:%M:%S ") + " ".join(str(x) for x in a)
        self.logf.write(msg + "\n")
        self.logf.flush()
        print(msg, file=sys.stderr, flush=True)

    def metric(self, **kv):
        kv["time"] = time.time()
        self.metf.write(json.dumps(kv) + "\n")
        self.metf.flush()

    def p(self, *parts):
        return os.path.join(self.path, *parts)


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)
