"""Llama decoder with optional FlexiDepth routers/adapters (see docs/method.md, mirrored in training/README.md).

Parameter names follow Hugging Face Llama and the released FlexiDepth checkpoint, so that
state_dict() keys are exactly the exported safetensors names.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(pos, head_dim, theta):
    """pos: [B, S] int. Returns cos, sin of shape [B, 1, S, head_dim] (HF non-interleaved)."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=pos.device) / head_dim))
    f = pos.float()[..., None] * inv  # [B,S,hd/2]
    emb = torch.cat((f, f), dim=-1)
    return emb.cos()[:, None], emb.sin()[:, None]


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.nh, self.nkv, self.hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def kv(self, z, cos, sin):
        B, S, _ = z.shape
        k = self.k_proj(z).view(B, S, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(z).view(B, S, self.nkv, self.hd).transpose(1, 2)
        k = k * cos + rotate_half(k) * sin
        return k, v

    def attend(self, z, cos, sin, k, v, bias):
        """z: [B,S,d] query inputs; k, v: [B,nkv,T,hd] (already including past);
        bias: [B,1,S,T] float additive mask (0 = attend, -inf = masked)."""
        B, S, _ = z.shape
        rep = self.nh // self.nkv
        q = self.q_proj(z).view(B, S, self.nh, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        # GQA as in HF repeat_kv: kv head j serves query heads j*rep .. j*rep+rep-1
        q = q.reshape(B, self.nkv, rep * S, self.hd)
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))  # [B,nkv,rep*S,T]
        s = s.view(B, self.nh, S, -1) + bias
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p.view(B, self.nkv, rep * S, -1), v)  # [B,nkv,rep*S,hd]
        o = o.view(B, self.nh, S, self.hd).transpose(1, 2).reshape(B, S, self.nh * self.hd)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, d, m):
        super().__init__()
        self.gate_proj = nn.Linear(d, m, bias=False)
        self.up_proj = nn.Linear(d, m, bias=False)
        self.down_proj = nn.Linear(m, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    def __init__(self, d, r, eps):
        super().__init__()
        self.router_enc = nn.Linear(d, r, bias=False)
        self.router_norm = RMSNorm(r, eps)
        self.router_dec = nn.Linear(r, d, bias=False)
        self.router_head = nn.Linear(d, 1, bias=False)

    def forward(self, z):
        return self.router_head(self.router_dec(torch.tanh(self.router_norm(self.router_enc(z))))).squeeze(-1)


class Adapter(nn.Module):
    """FlexiDepth adapter with the released (swapped) naming: up_proj(silu(gate_proj(u)) * down_proj(u))."""

    def __init__(self, d, m):
        super().__init__()
        self.gate_proj = nn.Linear(d, m, bias=False)
        self.down_proj = nn.Linear(d, m, bias=False)
        self.up_proj = nn.Linear(m, d, bias=False)

    def forward(self, u):
        return self.up_proj(F.silu(self.gate_proj(u)) * self.down_proj(u))


class Layer(nn.Module):
    def __init__(self, c, routed):
        super().__init__()
        d, eps = c["hidden_size"], c["rms_norm_eps"]
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.mlp = MLP(d, c["intermediate_size"])
        self.routed = routed
        self.gate_estimator = None  # training only; see forward
        self.drop_prob = 0.0  # pre-training only: per-token stochastic depth, see forward
        if routed:
            self.router = Router(d, d // 16, eps)
            self.router_proj = Adapter(d, c["intermediate_size"] // 16)

    def forward(self, x, cos, sin, mask, past, routing, threshold=0.5):
        z = self.input_layernorm(x)
        k, v = self.self_attn.kv(z, cos, sin)  # K/V for every token, full path or not
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        if not (self.routed and routing):
            h = x + self.self_attn.attend(z, cos, sin, k, v, mask)
            y = h + self.mlp(self.post_attention_layernorm(h))
            if self.training and self.drop_prob > 0:
                # Stochastic depth per token, shaped like a FlexiDepth skip: the dropped token's K/V
                # are still computed and attended to, only its own update is left out.
                keep = torch.rand(x.shape[:2], device=x.device) >= self.drop_prob
                y = torch.where(keep[..., None], y, x)
            return y, present, None
        g = torch.sigmoid(self.router(z).float()).to(x.dtype)  # [B,S]
        full = g > threshold
        gg = g[..., None]
        # Dense computation of both paths (reference semantics; the engine skips for real).
        h = x + self.self_attn.attend(z, cos, sin, k, v, mask)
        y_full = h + gg * self.mlp(self.post_attention_layernorm(h))
        y_skip = x + (1 - gg) * self.router_proj(self.post_attention_layernorm(x))
        y = torch.where(full[..., None], y_full, y_skip)
        if self.training and self.gate_estimator == "straight-through":
            # Forward unchanged; backward gives the router the first-order cost of switching paths,
            # (y_full - y_skip) . dL/dy, which the g / (1-g) scaling alone does not (the paper adds a
            # SparseMixer-style estimator for the same reason).
            y = y + (gg - gg.detach()) * (y_full - y_skip).detach()
        return y, present, g


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        routing = set(c.get("routing_layers") or [])
        self.layers = nn.ModuleList([Layer(c, i in routing) for i in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = dict(c)
        self.model = LlamaModel(c)
        self.tied = c.get("tie_word_embeddings", True)
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.routing_layers = sorted(c.get("routing_layers") or [])

    def init_weights(self, std=0.02):
        n = self.config["num_hidden_layers"]
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("mlp.down_proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * n))
            else:
                nn.init.normal_(p, 0.0, std)

    def head(self, x):
        w = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return F.linear(x, w)

    def forward(self, ids, pos, mask, past=None, routing=True, threshold=0.5):
        """ids, pos: [B,S]; mask: [B,1,S,T] bool or float additive bias; past: list of (k,v) per layer or None.
        Returns logits [B,S,V], presents, gates [R,B,S] (or None when routing is off / no routed layers)."""
        x = self.model.embed_tokens(ids)
        if mask.dtype == torch.bool:
            mask = mask_to_bias(mask)
        cos, sin = rope_cos_sin(pos, self.config["head_dim"], self.config["rope_theta"])
        presents, gates = [], []
        for i, layer in enumerate(self.model.layers):
            x, pr, g = layer(x, cos, sin, mask, None if past is None else past[i], routing, threshold)
            presents.append(pr)
            if g is not None:
                gates.append(g)
        x = self.model.norm(x)
        return self.head(x), presents, (torch.stack(gates) if gates else None)


def doc_causal_mask(doc_ids):
    """doc_ids: [B,S] document index per position -> [B,1,S,S] bool (same document and causal)."""
    S = doc_ids.shape[1]
    causal = torch.ones(S, S, dtype=torch.bool, device=doc_ids.device).tril()
    return ((doc_ids[:, :, None] == doc_ids[:, None, :]) & causal)[:, None]


def mask_to_bias(mask):
    """bool mask (True = attend) -> additive float bias. Rows with nothing to attend get 0 everywhere
    (their output is garbage but finite; they are padding)."""
    bias = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill(~mask, float("-inf"))
    empty = ~mask.any(-1, keepdim=True)
    return bias.masked_fill(empty, 0.0)


def is_flexidepth_name(name):
    """Router and adapter tensors (the FlexiDepth stage's parameters); every other tensor is the frozen base."""
    return ".router." in name or ".router_proj." in name


def flexidepth_params(model):
    return [p for n, p in model.named_parameters() if is_flexidepth_name(n)]
