"""On a CUDA device (marked gpu; they skip without one, and scripts/gpu-check runs them): a training step,
bf16 autocast, the same seed twice, a nondeterministic op refused by name, CPU-vs-GPU agreement, the
resume state's CUDA generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from erbench import runtime
from erbench.config import ModelOptions, RunConfig, TrainOptions
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.spert import SpanRelationModel
from erbench.optim import make_optimizer
from erbench.steps import prepare_batch
from erbench.train import RunData, train_model, train_step

from tests.test_train import TYPES, documents

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
CUDA = torch.device("cuda")


def tiny_model(tokenizer, device=CUDA) -> SpanRelationModel:
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, ModelOptions(neg_entity_count=8))
    return model.to(device).train()


def one_batch(model, tokenizer, device=CUDA, seed: int = 0):
    encoded, _ = encode_documents(tokenizer, documents("train")[:2], 128)
    return prepare_batch(model, encoded, np.random.default_rng(seed), pad_id=tokenizer.pad_token_id,
                         pin=device.type == "cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_training_step_runs_on_cuda(tokenizer, precision: str) -> None:
    runtime.configure_cuda(tf32=False, deterministic=True)
    model = tiny_model(tokenizer)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = one_batch(model, tokenizer)
    assert batch.input_ids.is_pinned()
    values = train_step(model, [], np.random.default_rng(0), make_optimizer(model, "adamw_legacy", 1e-3, 0.01),
                        pad_id=tokenizer.pad_token_id, device=CUDA, precision=precision, batch=batch, read=False)
    assert values["loss"].device.type == "cuda" and torch.isfinite(values["loss"])
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and all(v.device.type == "cuda" for v in model.state_dict().values())


def test_bf16_autocast_runs_the_encoder_in_bf16(tokenizer) -> None:
    model = tiny_model(tokenizer)
    batch = one_batch(model, tokenizer).to(CUDA)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        h = model.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        loss, _ = model.loss(batch)
    assert h.dtype == torch.bfloat16 and torch.isfinite(loss)


def cuda_run(tokenizer, seed: int):
    cfg = RunConfig("tiny", "spert", seed, dev_split=None, model=ModelOptions(neg_entity_count=8),
                    train=TrainOptions(encoder="tiny-random", epochs=2, lr=1e-3, device="cuda", log_every=1,
                                       eval_dev_every_epoch=False))
    data = RunData(TYPES, documents("train"), documents("test"), None)
    model, _, history, info = train_model(cfg, data, encoder=(tiny_encoder(tokenizer, seed=seed), tokenizer))
    return [r["train/loss"] for r in info["steps_log"]], {k: v.cpu() for k, v in model.state_dict().items()}


def test_the_same_seed_twice_on_cuda_is_identical(tokenizer) -> None:
    losses_a, weights_a = cuda_run(tokenizer, 3)
    losses_b, weights_b = cuda_run(tokenizer, 3)
    assert losses_a == losses_b and len(losses_a) > 2
    assert [k for k in weights_a if not torch.equal(weights_a[k], weights_b[k])] == []
    assert torch.are_deterministic_algorithms_enabled()


def test_an_op_without_a_deterministic_cuda_kernel_fails_naming_it() -> None:
    runtime.configure_cuda(tf32=False, deterministic=True)
    with pytest.raises(RuntimeError, match="put_"):
        torch.zeros(4, device=CUDA).put_(torch.tensor([0, 0], device=CUDA), torch.ones(2, device=CUDA))


def test_cpu_and_cuda_agree_on_loss_and_decisions(tokenizer) -> None:
    runtime.configure_cuda(tf32=False, deterministic=True)
    model = tiny_model(tokenizer, torch.device("cpu")).eval()
    batch = one_batch(model, tokenizer, torch.device("cpu"))
    encoded, _ = encode_documents(tokenizer, documents("test"), 128)
    results = []
    for device in (torch.device("cpu"), CUDA):
        model.to(device)
        with torch.no_grad():
            loss, _ = model.loss(batch.to(device))
            decided = [d.to_json() for d in model.predict(encoded, tokenizer.pad_token_id, device)]
        results.append((float(loss), decided))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    assert results[0][1] == results[1][1]


def test_the_resume_state_holds_the_cuda_generator() -> None:
    from erbench.resume import random_states, restore_random_states

    torch.cuda.init()
    rng = np.random.default_rng(0)
    states = random_states(rng)
    assert "cuda" in states
    first = torch.rand(3, device=CUDA)
    restore_random_states(rng, states)
    assert torch.equal(first, torch.rand(3, device=CUDA))
