"""The class-balanced baseline decoded as its loss implies (`cb_decision: corrected`; docs/methods.md,
"Class-balanced decision").

A model trained with per-class sample weights w_c learns shifted scores (logit adjustment: Menon et al.
2021, "Long-tail learning via logit adjustment", ICLR). Weighted softmax cross-entropy is minimised by
softmax(z)_c proportional to w_c p(c|x), so the decision argmax_c p(c|x) is argmax_c (z_c - log w_c).
Binary cross-entropy with positives weighted w_pos and negatives w_neg is minimised by
z = logit p + log(w_pos / w_neg), so the unweighted logit is z - log(w_pos / w_neg). Under SPEC 5 the
negatives of relation type t's BCE are the "no relation" pairs (weight w_none) and the pairs related by
other types only (each weighted by its own types' weights): w_neg(t) is the count-weighted mean of
those weights over one epoch's samples (`relation_offsets`).
"""

from __future__ import annotations

import math

import torch


def entity_offsets(weights: list[float]) -> torch.Tensor:
    """log w_c per entity class [none, types...]; 0 for a class with no training sample (weight 0: it
    was never a target, so the weighting put no shift into its score)."""
    return torch.tensor([math.log(w) if w > 0 else 0.0 for w in weights], dtype=torch.float64)


def relation_offsets(counts: list[float], weights: list[float]) -> torch.Tensor:
    """log(w_t / w_neg(t)) per relation type, from one epoch's class counts [none, types...] (n_none
    expected negative pairs, n_o positive pairs carrying type o) and the class weights [none, types...]:

        w_neg(t) = (n_none w_none + sum_{o != t} n_o w_o) / (n_none + sum_{o != t} n_o).

    A pair carrying several types counts once per type (its weight is its types' mean; exact when no
    pair carries two types). 0 for a type with no training sample or no negatives."""
    n = [float(c) for c in counts]
    out = []
    for t in range(1, len(n)):
        others = [c for c in range(len(n)) if c != t]
        n_neg = sum(n[c] for c in others)
        if weights[t] <= 0 or n[t] <= 0 or n_neg <= 0:
            out.append(0.0)
            continue
        w_neg = sum(n[c] * weights[c] for c in others) / n_neg
        out.append(math.log(weights[t] / w_neg))
    return torch.tensor(out, dtype=torch.float64)


def simple_relation_offsets(weights: list[float]) -> torch.Tensor:
    """log(w_t / w_none): the shift when every negative of type t were a "no relation" pair (for
    comparison with `relation_offsets`; docs/methods.md)."""
    return torch.tensor([math.log(w / weights[0]) if w > 0 else 0.0 for w in weights[1:]], dtype=torch.float64)


def cb_offsets(class_counts: dict, class_weights: dict) -> dict[str, torch.Tensor]:
    """{"entity": [1 + C_e], "relation": [R]}: what `corrected` subtracts from each side's logits, from a
    run's recorded `class_counts` and `class_weights` (metrics.json `data`)."""
    return {"entity": entity_offsets(list(class_weights["entity"])),
            "relation": relation_offsets(list(class_counts["relation"]), list(class_weights["relation"]))}


def corrected(out: dict[str, torch.Tensor], offset: torch.Tensor) -> dict[str, torch.Tensor]:
    """SpERT head outputs with the weighting's shift removed: logits - offset (in float32)."""
    logits = out["logits"].float()
    return {**out, "logits": logits - offset.to(device=logits.device, dtype=logits.dtype)}
