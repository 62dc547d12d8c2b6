"""The reference FlexiDepth model's training, export and PyTorch checks (training/README.md).

A package: its scripts run from the repository root as modules, e.g.
`/usr/bin/python3 -m training.train --preset smoke --run /tmp/smoke --out /tmp/smoke/model`.
"""
