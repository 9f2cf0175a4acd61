"""Which weights serving engines load as one fused layer, and so must share one global
scale.

vLLM and SGLang load q/k/v projections into one ``qkv_proj``, gate/up into one
``gate_up_proj`` (each MoE expert's too) and MLA's ``q_a_proj`` with
``kv_a_proj_with_mqa``, and keep ONE global scale per fused layer (the max of the
members'; for MoE w13, w1's). A member quantized against a different tensor amax is
then decoded with the wrong scale. So, as llm-compressor does, every member of a group
is quantized with the group's amax (the max over members), and all carry the same
global scale.

The rules are data: :data:`FUSED_GROUPS`. A group is the weights ``<prefix>.<member>.weight``
(or stacked experts ``<prefix>.<member>``) of one rule with the same prefix, at least two
of them quantized. Where member names are ambiguous a rule names the architectures
(config.json ``architectures``) it applies to; without a config it applies by names.
"""

import collections
import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class FusedRule:
    """Members that engines fuse into the layer ``fused`` (its name in vLLM)."""

    fused: str
    members: tuple
    families: str                 # which models use it (documentation)
    architectures: str = None     # regex over config.json "architectures"; None: any


#: The fusion rules, one place (tests/test_fused_groups.py holds a case per family).
FUSED_GROUPS = (
    FusedRule("qkv_proj", ("q_proj", "k_proj", "v_proj"),
              "Llama, Mistral, Mixtral, Qwen2/Qwen3, Qwen-MoE, Gemma (Phi-3's qkv_proj is fused already)"),
    FusedRule("gate_up_proj", ("gate_proj", "up_proj"),
              "Llama, Mistral, Qwen2/Qwen3, Gemma; each MoE expert (experts.N.) and shared expert of Qwen-MoE, "
              "DeepSeek-V2/V3"),
    FusedRule("gate_up_proj", ("w1", "w3"), "Mixtral experts (block_sparse_moe.experts.N.), InternLM2 feed_forward"),
    FusedRule("fused_qkv_a_proj", ("q_a_proj", "kv_a_proj_with_mqa"), "DeepSeek-V2/V3 multi-head latent attention"),
    FusedRule("qkv_proj", ("query", "key", "value"), "BERT, RoBERTa, XLM-R, ELECTRA encoders",
              architectures=r"Bert|Roberta|XLMRoberta|Electra|Camembert|Ernie|Nomic|ModernBert"),
)


def _pattern(rule):
    alt = "|".join(re.escape(m) for m in rule.members)
    return re.compile(rf"^(?P<prefix>.+)\.(?P<member>{alt})(?P<suffix>\.weight)?$")


_PATTERNS = [(rule, _pattern(rule)) for rule in FUSED_GROUPS]


def _applies(rule, architectures):
    if rule.architectures is None or not architectures:
        return True
    return any(re.search(rule.architectures, a) for a in architectures if isinstance(a, str))


def fused_groups(names, config=None):
    """{group name: [member weight names, in the rule's order]} for the weights
    ``names`` (those being quantized). A group is named ``<prefix>.<fused>``, e.g.
    ``model.layers.0.self_attn.qkv_proj``; only groups of two or more members count."""
    archs = (config or {}).get("architectures") if isinstance(config, dict) else None
    archs = archs if isinstance(archs, list) else []
    found = collections.defaultdict(dict)
    for rule, pat in _PATTERNS:
        if _applies(rule, archs):
            for n in names:
                m = pat.match(n)
                if m:
                    found[(m["prefix"], rule)][m["member"]] = n
    return dict(sorted((f"{prefix}.{rule.fused}", [members[m] for m in rule.members if m in members])
                       for (prefix, rule), members in found.items() if len(members) >= 2))
