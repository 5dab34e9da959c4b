"""Optimizers. `AdamWLegacy` is the AdamW the reference SpERT trains with (docs/methods.md, SpERT).

The reference builds the AdamW that `transformers` shipped before 4.x removed it, with
`correct_bias=False`. Per parameter p with gradient g, scheduled learning rate lr:

    m <- beta1 * m + (1 - beta1) * g
    v <- beta2 * v + (1 - beta2) * g * g
    p <- p - lr * m / (sqrt(v) + eps)        # no bias correction; eps outside the (uncorrected) sqrt
    p <- p - lr * wd * p                     # decoupled decay, after the update, on the updated p

`torch.optim.AdamW` differs in three places: it corrects the bias (early steps 3-6x smaller
than these), uses eps 1e-8, and decays before the update. The class below is written anew from
the formulas above. By default its update runs in torch's fused AdamW kernel (`torch._fused_adamw_`,
one pass over each tensor) with the bias correction switched off exactly: the kernel divides by
1 - beta^step, and it is handed a step count at which beta^step is 0 in floating point, so both
corrections are 1; its own weight decay is off, and the decay runs after the update as above.
That kernel is elementwise (the same result at any thread count) and about 5x faster on CPU than
the multi-tensor (`_foreach_*`) formulation, which streams all parameters through memory once per
operation; `erbench bench` measures it. `fused=False` keeps the multi-tensor kernels (`foreach`)
or a plain loop; all three agree to float rounding (tests/test_optim.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from erbench.errors import UserInputError


class AdamWLegacy(torch.optim.Optimizer):
    """AdamW without bias correction, eps 1e-6 added to sqrt(v), decay after the step."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, foreach: bool = True, fused: bool | None = None):
        if lr < 0.0:
            raise ValueError(f"lr: must be >= 0, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas: each must lie in [0, 1), got {betas}")
        if eps < 0.0:
            raise ValueError(f"eps: must be >= 0, got {eps}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                    "fused": fused}
        super().__init__(params, defaults)
        self._no_correction: dict[torch.device, torch.Tensor] = {}

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamWLegacy does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
            if not params:
                continue
            hyper = {"lr": group["lr"], "beta1": group["betas"][0], "beta2": group["betas"][1], "eps": group["eps"],
                     "weight_decay": group["weight_decay"]}
            if group["fused"] is not False and _fused_available(params):
                self._fused_step(params, grads, exp_avgs, exp_avg_sqs, **hyper)
            elif group["fused"]:
                raise RuntimeError("AdamWLegacy(fused=True): torch's fused AdamW kernel does not cover these "
                                   f"parameters ({params[0].device}, {params[0].dtype})")
            else:
                (_foreach_step if group["foreach"] else _loop_step)(params, grads, exp_avgs, exp_avg_sqs, **hyper)
        return loss

    def _fused_step(self, params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2, eps, weight_decay):
        device = params[0].device
        if device not in self._no_correction:  # beta1**1e9 == beta2**1e9 == 0.0: corrections of exactly 1
            self._no_correction[device] = torch.tensor(1e9, dtype=torch.float32, device=device)
        steps = [self._no_correction[device]] * len(params)
        torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, beta2=beta2,
                            weight_decay=0.0, eps=eps, amsgrad=False, maximize=False)
        if weight_decay > 0.0:
            torch._foreach_add_(params, params, alpha=-lr * weight_decay)


def _fused_available(params: list[torch.Tensor]) -> bool:
    """torch's fused AdamW kernel takes floating tensors of one device type it is built for."""
    if not hasattr(torch, "_fused_adamw_"):
        return False
    kinds = {(p.device.type, p.dtype) for p in params}
    return all(dev in ("cpu", "cuda") and dtype in (torch.float32, torch.float64) for dev, dtype in kinds) and \
        len({p.device for p in params}) == 1


def _foreach_step(params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2, eps, weight_decay):
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1.0 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, value=-lr)
    if weight_decay > 0.0:
        torch._foreach_add_(params, params, alpha=-lr * weight_decay)


def _loop_step(params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2, eps, weight_decay):
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        m.mul_(beta1).add_(g, alpha=1.0 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        p.addcdiv_(m, v.sqrt().add_(eps), value=-lr)
        if weight_decay > 0.0:
            p.add_(p, alpha=-lr * weight_decay)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay every weight but biases and LayerNorm parameters (as the reference SpERT does)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """`adamw_legacy` (the reference's, the protocol default) or `adamw` (torch's, fused where built)."""
    groups = parameter_groups(model, weight_decay)
    if name == "adamw_legacy":
        return AdamWLegacy(groups, lr=lr)
    if name == "adamw":
        try:
            return torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, TypeError):  # fused AdamW is not built for this device
            return torch.optim.AdamW(groups, lr=lr)
    raise UserInputError(f"optimizer: expected adamw_legacy or adamw, got '{name}'")
