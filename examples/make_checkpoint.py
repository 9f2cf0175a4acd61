"""Write a tiny Llama-shaped checkpoint to quantize, with no download.

    python examples/make_checkpoint.py tiny-llama [--layers 2] [--hidden 256] [--shards 2]
    python examples/make_checkpoint.py tiny-moe --experts 4 [--stacked]

The folder gets ``config.json``, bfloat16 weights in safetensors (sharded with an index
json when --shards > 1, as Hugging Face saves large models), a byte-level tokenizer (so
that transformers loads and runs it as a real model: ``nvfp4-np calibrate``) and
``calib.npz`` with synthetic activations X (T, K) for every linear layer, for
``--method hessian|admm --calib``.
Weights are heavy-tailed (Student t, 4 degrees of freedom) with a few large input
channels, and the activations are correlated, as in real models; values are drawn from
a fixed seed, so the files are the same on every machine.

With ``--experts E`` the MLP of every layer is a Qwen-MoE-shaped mixture of experts: a
router ``mlp.gate`` (E, hidden), E experts ``mlp.experts.N.{gate,up,down}_proj``, a
shared expert ``mlp.shared_expert.*`` and its gate ``mlp.shared_expert_gate``; ``--stacked`` stores each projection of the experts
as one 3-D tensor ``mlp.experts.{gate,up,down}_proj`` (E, N, K) instead.
"""

import argparse
import json
import os

import ml_dtypes
import numpy as np

from nvfp4_np import _safetensors


#: The end-of-text token of the byte-level tokenizer (ids 0..255 are the bytes).
EOS = "<|endoftext|>"


def _byte_chars():
    """GPT-2's byte-level alphabet: a printable character for each of the 256 bytes."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1),
            *range(ord("\u00ae"), ord("\u00ff") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def write_tokenizer(folder):
    """A byte-level BPE tokenizer with no merges (token id = byte value, 256 = end of
    text), as the ``tokenizers`` package and transformers' PreTrainedTokenizerFast read it:
    enough to run the tiny model on real text without downloading a vocabulary."""
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    vocab = {c: b for b, c in _byte_chars().items()}
    vocab[EOS] = 256
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": 256, "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True}],
           "normalizer": None, "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level,
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": vocab, "merges": []}}
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": EOS, "model_max_length": 4096}, f,
                  indent=2)


def make(folder, layers=2, hidden=256, inter=None, vocab=512, shards=2, tokens=512, seed=0, experts=0, stacked=False):
    inter = inter or 2 * hidden
    rng = np.random.default_rng(seed)
    bf16 = ml_dtypes.bfloat16
    t = {"model.embed_tokens.weight": rng.standard_normal((vocab, hidden)) * 0.02}
    shapes = {"self_attn.q_proj": (hidden, hidden), "self_attn.k_proj": (hidden // 4, hidden),
              "self_attn.v_proj": (hidden // 4, hidden), "self_attn.o_proj": (hidden, hidden),
              "mlp.gate_proj": (inter, hidden), "mlp.up_proj": (inter, hidden), "mlp.down_proj": (hidden, inter)}
    if experts:  # Qwen-MoE: the dense MLP becomes a router, experts and a shared expert
        mlp = {n: shapes.pop(n) for n in ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
        shapes["mlp.gate"] = (experts, hidden)
        shapes["mlp.shared_expert_gate"] = (1, hidden)
        for n, (m, k) in mlp.items():
            proj = n.split(".")[1]
            shapes[f"mlp.shared_expert.{proj}"] = (m, k)
            for j in range(experts):
                shapes[f"mlp.experts.{j}.{proj}"] = (m // 2, k) if proj != "down_proj" else (m, k // 2)
    acts = {}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(hidden)
        t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(hidden)
        for name, (m, k) in shapes.items():
            w = rng.standard_t(4, (m, k)) * (0.5 / np.sqrt(k))
            w[:, rng.choice(k, 2, replace=False)] *= 8  # outlier input channels
            t[p + name + ".weight"] = w
            mix = rng.standard_normal((k, k)) / np.sqrt(k)  # correlated activations
            acts[p + name] = (rng.standard_normal((tokens, k)) @ (np.eye(k) + 0.5 * mix)).astype(np.float32)
        if experts:  # Qwen2-MoE's attention has q/k/v biases
            for proj in ("q_proj", "k_proj", "v_proj"):
                t[f"{p}self_attn.{proj}.bias"] = np.zeros(shapes[f"self_attn.{proj}"][0])
        if experts and stacked:  # experts.N.proj (N, K) -> experts.proj (E, N, K)
            for proj in ("gate_proj", "up_proj", "down_proj"):
                names = [f"{p}mlp.experts.{j}.{proj}.weight" for j in range(experts)]
                t[f"{p}mlp.experts.{proj}"] = np.stack([t.pop(n) for n in names])
                for j in range(experts):
                    acts.pop(f"{p}mlp.experts.{j}.{proj}")
    t["model.norm.weight"] = np.ones(hidden)
    t["lm_head.weight"] = rng.standard_normal((vocab, hidden)) * 0.02
    t = {k: np.asarray(v, np.float64).astype(bf16) for k, v in t.items()}

    os.makedirs(folder, exist_ok=True)
    names = list(t)
    groups = [names[i::shards] for i in range(shards)] if shards > 1 else [names]
    if shards > 1:
        weight_map, total = {}, 0
        for j, g in enumerate(groups):
            fname = f"model-{j + 1:05d}-of-{shards:05d}.safetensors"
            _safetensors.save(os.path.join(folder, fname), {k: t[k] for k in g}, {"format": "pt"})
            weight_map.update({k: fname for k in g})
            total += sum(t[k].nbytes for k in g)
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    else:
        _safetensors.save(os.path.join(folder, "model.safetensors"), t, {"format": "pt"})
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
              "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": 4,
              "num_key_value_heads": 1, "vocab_size": vocab, "torch_dtype": "bfloat16", "eos_token_id": 256,
              "max_position_embeddings": 4096, "tie_word_embeddings": False}
    if experts:
        config.update(architectures=["Qwen2MoeForCausalLM"], model_type="qwen2_moe", num_experts=experts,
                      num_experts_per_tok=2, moe_intermediate_size=inter // 2, shared_expert_intermediate_size=inter)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    np.savez(os.path.join(folder, "calib.npz"), **acts)
    if vocab > 256:
        write_tokenizer(folder)
    return t, acts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--experts", type=int, default=0, help="a Qwen-MoE-shaped model with this many experts per layer")
    ap.add_argument("--stacked", action="store_true", help="with --experts: store experts as 3-D (E, N, K) tensors")
    a = ap.parse_args(argv)
    t, acts = make(a.folder, a.layers, a.hidden, shards=a.shards, tokens=a.tokens, experts=a.experts,
                   stacked=a.stacked)
    n = sum(v.size for v in t.values())
    print(f"wrote {a.folder}: {len(t)} tensors, {n:,} parameters (bfloat16), {len(acts)} activation sets in calib.npz")


if __name__ == "__main__":
    main()
