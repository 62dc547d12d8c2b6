"""Batched greedy generation with a KV cache and per-position routing gates (reference semantics)."""
import torch

from .model import CausalLM


def newline_ids(tok):
    return {i for t, i in tok.vocab.items() if "\u010a" in t}  # byte-level 'Ċ' = "\n"


@torch.no_grad()
def greedy(model: CausalLM, prompts, max_new, stop_ids, eos_id, routing=True, threshold=0.5, stop_on_newline=True):
    """prompts: list of token id lists (BOS included). Returns a list of dicts
    {ids: generated ids (stop token included), gates: [positions][R] floats for prompt + generated
    positions (the last generated token is run through the model once more so it has gates too)}."""
    model.eval()
    B = len(prompts)
    L = max(len(p) for p in prompts)
    pad = [L - len(p) for p in prompts]
    dev = next(model.parameters()).device
    ids = torch.tensor([[0] * pad[b] + prompts[b] for b in range(B)], device=dev)
    valid = torch.tensor([[False] * pad[b] + [True] * len(prompts[b]) for b in range(B)], device=dev)
    pos = (torch.arange(L, device=dev)[None] - torch.tensor(pad, device=dev)[:, None]).clamp(min=0)
    causal = torch.ones(L, L, dtype=torch.bool, device=dev).tril()
    mask = causal[None, None] & valid[:, None, None, :]
    logits, past, gates = model(ids, pos, mask, routing=routing, threshold=threshold)
    R = 0 if gates is None else gates.shape[0]
    out_gates = [[] for _ in range(B)]
    if R:
        g = gates.permute(1, 2, 0)  # [B,S,R]
        for b in range(B):
            out_gates[b] = g[b, pad[b]:].tolist()
    gen = [[] for _ in range(B)]
    done = [False] * B
    nxt = logits[:, -1].argmax(-1)
    cur_pos = pos[:, -1]
    for step in range(max_new):
        for b in range(B):
            if not done[b]:
                t = int(nxt[b])
                gen[b].append(t)
                if t == eos_id or (stop_on_newline and t in stop_ids) or len(gen[b]) >= max_new:
                    done[b] = True
        # run the newest tokens (also the final ones, so every generated token gets its gates)
        valid = torch.cat([valid, torch.ones(B, 1, dtype=torch.bool, device=dev)], dim=1)
        cur_pos = cur_pos + 1
        m = valid[:, None, None, :]
        logits, past, gates = model(nxt[:, None], cur_pos[:, None], m, past=past, routing=routing, threshold=threshold)
        if R:
            g = gates.permute(1, 2, 0)[:, 0]  # [B,R]
            for b in range(B):
                if len(out_gates[b]) < len(prompts[b]) + len(gen[b]):
                    out_gates[b].append(g[b].tolist())
        if all(done):
            break
        nxt = logits[:, -1].argmax(-1)
    return [{"ids": gen[b], "gates": out_gates[b]} for b in range(B)]
