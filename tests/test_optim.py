"""The reference SpERT's AdamW (benchmark/optim.py): hand-computed steps and a plain loop."""

from __future__ import annotations

import math

import pytest
import torch
from erbench.optim import AdamWLegacy, make_optimizer, parameter_groups


def test_two_hand_computed_steps() -> None:
    # one parameter p0 = [1.0, -2.0], gradients g1 = [0.5, 0.1], g2 = [-0.2, 0.3], lr 0.1, wd 0.01
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = AdamWLegacy([p], lr=0.1, weight_decay=0.01)
    b1, b2, eps, lr, wd = 0.9, 0.999, 1e-6, 0.1, 0.01
    expected, m, v = [1.0, -2.0], [0.0, 0.0], [0.0, 0.0]
    for g in ([0.5, 0.1], [-0.2, 0.3]):
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        for i in range(2):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            x = expected[i] - lr * m[i] / (math.sqrt(v[i]) + eps)  # no bias correction, eps outside sqrt
            expected[i] = x - lr * wd * x  # decay after the update, on the updated value
        torch.testing.assert_close(p.detach(), torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)
    state = opt.state[p]
    torch.testing.assert_close(state["exp_avg"], torch.tensor(m, dtype=torch.float64), rtol=0, atol=1e-15)
    torch.testing.assert_close(state["exp_avg_sq"], torch.tensor(v, dtype=torch.float64), rtol=0, atol=1e-15)
    assert state["step"] == 2


def test_first_step_is_lr_sized_unlike_torch_adamw() -> None:
    # step 1 without bias correction: m = 0.1 g, sqrt(v) = 0.0316 |g|, so |dp| = lr * 0.1 / 0.0316 = 3.16 lr;
    # torch's AdamW corrects both to |dp| = lr: the reference's early steps are ~3x larger
    p = torch.nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
    q = torch.nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
    legacy, modern = AdamWLegacy([p], lr=1e-3), torch.optim.AdamW([q], lr=1e-3, weight_decay=0.0)
    p.grad = torch.tensor([2.0], dtype=torch.float64)
    q.grad = torch.tensor([2.0], dtype=torch.float64)
    legacy.step()
    modern.step()
    assert p.item() == pytest.approx(-1e-3 * 0.1 * 2.0 / (math.sqrt(0.001 * 4.0) + 1e-6), rel=1e-12)
    assert q.item() == pytest.approx(-1e-3, rel=1e-6)
    assert abs(p.item()) / abs(q.item()) == pytest.approx(3.162, rel=1e-3)


def test_eps_is_added_to_the_uncorrected_sqrt() -> None:
    # a zero gradient on a fresh parameter: m = v = 0 and the step is 0 / eps = 0 (no NaN)
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdamWLegacy([p], lr=0.5, eps=1e-6, weight_decay=0.0)
    p.grad = torch.zeros(3)
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3))
    # a tiny gradient g: step = lr * 0.1 g / (sqrt(0.001) |g| + eps): eps matters when |g| ~ eps
    p.grad = torch.full((3,), 1e-6)
    opt.step()
    m = 0.9 * 0.0 + 0.1 * 1e-6  # the first step's moments were zero
    v = 0.999 * 0.0 + 0.001 * 1e-12
    torch.testing.assert_close(p.detach(), torch.full((3,), 1.0 - 0.5 * m / (math.sqrt(v) + 1e-6)))


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(7, 6)
        self.lin = torch.nn.Linear(6, 5)
        self.LayerNorm = torch.nn.LayerNorm(5)
        self.out = torch.nn.Linear(5, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.LayerNorm(torch.tanh(self.lin(self.emb(ids)))).mean(dim=1))


def test_no_decay_groups() -> None:
    model = Tiny()
    names = {id(p): n for n, p in model.named_parameters()}
    groups = parameter_groups(model, 0.01)
    decay = sorted(names[id(p)] for p in groups[0]["params"])
    no_decay = sorted(names[id(p)] for p in groups[1]["params"])
    assert decay == ["emb.weight", "lin.weight", "out.weight"]
    assert no_decay == ["LayerNorm.bias", "LayerNorm.weight", "lin.bias", "out.bias"]
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0


def _plain_reference_loop(params_groups, grads_per_step, lrs):
    """The formulas written per parameter with Python floats' order of operations on tensors."""
    state = {}
    for grads, lr in zip(grads_per_step, lrs):
        for group in params_groups:
            for p in group["params"]:
                g = grads[id(p)]
                m, v = state.setdefault(id(p), (torch.zeros_like(p), torch.zeros_like(p)))
                m.mul_(0.9).add_(g, alpha=0.1)
                v.mul_(0.999).addcmul_(g, g, value=0.001)
                denom = v.sqrt().add_(1e-6)
                p.data.addcdiv_(m, denom, value=-lr)
                if group["weight_decay"] > 0:
                    p.data.add_(p.data, alpha=-lr * group["weight_decay"])


@pytest.mark.parametrize("kernel", ["fused", "foreach", "loop"])
def test_equal_to_a_plain_per_parameter_loop_over_20_steps(kernel: str) -> None:
    """foreach and loop run the loop's operations in its order: bitwise equal. The fused kernel runs the
    same formulas in one pass with its own order of float operations: equal to float32 rounding."""
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(0)
    model = Tiny()
    reference = Tiny()
    reference.load_state_dict(model.state_dict())
    opt = AdamWLegacy(parameter_groups(model, 0.01), lr=5e-3, foreach=kernel == "foreach", fused=kernel == "fused")
    sched = get_linear_schedule_with_warmup(opt, 2, 20)
    grads_per_step, lrs = [], []
    ref_params = dict(reference.named_parameters())
    for _ in range(20):
        ids = torch.randint(0, 7, (4, 5))
        target = torch.randint(0, 3, (4,))
        loss = torch.nn.functional.cross_entropy(model(ids), target)
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        grads_per_step.append({id(ref_params[n]): p.grad.detach().clone() for n, p in model.named_parameters()})
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    # the reference consumes the same gradient sequence (computed at the optimizer's own iterates)
    _plain_reference_loop(parameter_groups(reference, 0.01), grads_per_step, lrs)
    for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        if kernel == "fused":  # 20 steps of lr 5e-3 move every weight by far more than the tolerance
            torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-6, atol=1e-6, msg=name)
        else:
            assert torch.equal(p.detach(), q.detach()), name


def test_make_optimizer_choices() -> None:
    model = Tiny()
    assert isinstance(make_optimizer(model, "adamw_legacy", 1e-3, 0.01), AdamWLegacy)
    assert isinstance(make_optimizer(model, "adamw", 1e-3, 0.01), torch.optim.AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(model, "sgd", 1e-3, 0.01)


def test_optimizer_is_the_protocol_default_and_recorded() -> None:
    from erbench.config import ConfigError, TrainOptions

    assert TrainOptions().optimizer == "adamw_legacy"
    with pytest.raises(ConfigError, match="optimizer"):
        TrainOptions(optimizer="sgd")
