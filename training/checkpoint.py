"""Hugging Face layout checkpoints: safetensors read/write (no `safetensors` package needed), config.json, loading."""
import json
import os
import struct

import numpy as np
import torch

from .model import CausalLM

DTYPES = {torch.float32: ("F32", np.float32), torch.float16: ("F16", np.float16)}
NP_OF = {"F32": np.float32, "F16": np.float16}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        code, npdt = DTYPES[t.dtype]
        b = t.numpy().astype(npdt).astype(np.dtype(npdt).newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype=np.dtype(NP_OF[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]))
    return out


def read_tensor_bytes(path, keep=lambda name: True):
    """name -> the tensor's raw bytes as stored in the file (for byte-identity checks; no dtype conversion)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    return {name: data[base + info["data_offsets"][0]:base + info["data_offsets"][1]]
            for name, info in header.items() if name != "__metadata__" and keep(name)}


def tensor_file_bytes(t):
    """The bytes write_safetensors stores for a float32 tensor."""
    return t.detach().float().contiguous().cpu().numpy().astype(np.dtype(np.float32).newbyteorder("<")).tobytes()


CONFIG_KEYS = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
               "head_dim", "rms_norm_eps", "rope_theta", "vocab_size", "max_position_embeddings", "tie_word_embeddings",
               "bos_token_id", "eos_token_id", "pad_token_id"]


def hf_config(c, ddllama):
    cfg = {"architectures": ["DDLlamaForCausalLM" if ddllama else "LlamaForCausalLM"],
           "model_type": "ddllama" if ddllama else "llama"}
    for k in CONFIG_KEYS:
        cfg[k] = c[k]
    cfg.update({"hidden_act": "silu", "attention_bias": False, "mlp_bias": False, "rope_scaling": None,
                "torch_dtype": "float32", "initializer_range": 0.02, "use_cache": True})
    if ddllama:
        cfg["routing_layers"] = list(c["routing_layers"])
    return cfg


def load_dir(path):
    """Exported checkpoint directory -> (CausalLM in eval mode, config dict)."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    c = {k: cfg[k] for k in CONFIG_KEYS}
    if cfg.get("model_type") == "ddllama":
        c["routing_layers"] = cfg["routing_layers"]
    model = CausalLM(c)
    sd = read_safetensors(os.path.join(path, "model.safetensors"))
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, cfg
