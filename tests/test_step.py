"""The training step's host side (erbench.steps): batches prepared one step ahead are the batches prepared
inline, losses summed on the device are the Python float sums, and a step asks the device nothing
(no `.item()`, no `nonzero`) outside the logging steps; the CUDA settings (erbench.runtime)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from dataclasses import fields, replace
from pathlib import Path

import erbench
import erbench.models
import numpy as np
import pytest
import torch
from erbench import runtime
from erbench.config import ModelOptions, RunConfig, TrainOptions
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.losses import multitask_loss
from erbench.models.registry import method_options
from erbench.models.spert import SpanRelationModel
from erbench.steps import DeviceSums, batches_ahead, prepare_batch, prepares_ahead
from erbench.train import RunData, train_model, train_step
from torch.utils._python_dispatch import TorchDispatchMode

from tests.test_train import TYPES, documents

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module

# where erbench's code is imported from: the package folders, or the strict editable install's link tree
PACKAGE_DIRS = tuple({str(Path(__file__).resolve().parents[1] / d) for d in ("benchmark", "models")}
                     | {str(Path(erbench.__file__).parent), str(Path(erbench.models.__file__).parent)})


def tiny_config(prepare_ahead: str = "auto", method: str = "spert", **train) -> RunConfig:
    options = {"epochs": 2, "lr": 1e-3, "device": "cpu", "threads": 1, "eval_dev_every_epoch": False,
               "log_every": 1, "prepare_ahead": prepare_ahead, **train}
    model = replace(method_options(method), neg_entity_count=8, neg_relation_count=2)
    return RunConfig("tiny", method, 3, dev_split=None, model=model,
                     train=TrainOptions(encoder="tiny-random", **options))


def train(cfg: RunConfig, tokenizer, train_docs=None):
    data = RunData(TYPES, train_docs or documents("train"), documents("test"), None)
    model, _, history, info = train_model(cfg, data, encoder=(tiny_encoder(tokenizer, seed=cfg.seed), tokenizer))
    return model, history, info


def same_batch(a, b) -> bool:
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            if not (x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)):
                return False
        elif isinstance(x, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


# -- look-ahead: same batches, same run ---------------------------------------------------------------
def test_batches_prepared_ahead_are_the_inline_batches(tokenizer) -> None:
    encoded, _ = encode_documents(tokenizer, documents("train"), 128)
    model = SpanRelationModel(tiny_encoder(tokenizer), TYPES, ModelOptions(neg_entity_count=8, neg_relation_count=2))
    streams, states = [], []
    for ahead in (False, True):
        rng = np.random.default_rng(5)
        order = rng.permutation(len(encoded))

        def prepare(k: int, rng=rng, order=order):
            docs = [encoded[i] for i in order[2 * k: 2 * k + 2]]
            return prepare_batch(model, docs, rng, pad_id=tokenizer.pad_token_id)

        streams.append(list(batches_ahead(prepare, len(encoded) // 2, ahead)))
        states.append(rng.bit_generator.state)
    assert len(streams[0]) == len(streams[1]) == len(encoded) // 2 >= 2
    assert all(same_batch(a, b) for a, b in zip(*streams))
    assert states[0] == states[1]  # the draws after the epoch (the next permutation) are the same too
    assert not same_batch(streams[0][0], streams[0][1])  # the comparison can tell batches apart


def test_an_error_while_preparing_ahead_reaches_the_caller() -> None:
    def prepare(k: int):
        if k == 1:
            raise ValueError("bad document 1")
        return k

    stream = batches_ahead(prepare, 3, True)
    assert next(stream) == 0
    with pytest.raises(ValueError, match="bad document 1"):
        next(stream)


@pytest.mark.parametrize("method", ["spert", "spert_mt"])
def test_preparing_ahead_trains_bit_identically(tokenizer, method: str) -> None:
    inline_model, inline_history, inline_info = train(tiny_config("inline", method), tokenizer)
    ahead_model, ahead_history, ahead_info = train(tiny_config("thread", method), tokenizer)
    assert inline_history and inline_info["steps_log"]
    strip = [{k: v for k, v in r.items() if k.startswith("train/")} for r in inline_history]
    assert strip == [{k: v for k, v in r.items() if k.startswith("train/")} for r in ahead_history]
    losses = [[(r["step"], r["train/loss"]) for r in info["steps_log"]] for info in (inline_info, ahead_info)]
    assert losses[0] == losses[1]
    a, b = inline_model.state_dict(), ahead_model.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_prepare_ahead_auto_means_a_thread_on_cuda_only() -> None:
    assert not prepares_ahead("auto", torch.device("cpu"))
    assert prepares_ahead("auto", torch.device("cuda", 0))
    assert prepares_ahead("thread", torch.device("cpu"))
    assert not prepares_ahead("inline", torch.device("cuda"))
    with pytest.raises(ValueError, match="prepare_ahead: expected one of auto, thread, inline, got 'on'"):
        TrainOptions(prepare_ahead="on")


# -- losses summed on the device ----------------------------------------------------------------------
def test_device_sums_are_the_python_float_sums() -> None:
    gen = torch.Generator().manual_seed(0)
    steps = [{"loss": torch.rand((), generator=gen) * 10, "relation": torch.tensor(-0.0)} for _ in range(500)]
    python: dict[str, float] = {"loss": 1.25}  # a resumed window: a saved float sum
    for values in steps:
        for key, value in values.items():
            python[key] = python.get(key, 0.0) + float(value)
    sums = DeviceSums({"loss": 1.25})
    for values in steps:
        sums.add(values)
    assert sums.floats() == python  # exact, -0.0 + ... included
    assert str(sums.floats()["relation"]) == str(python["relation"])
    assert DeviceSums().floats() == {}


# -- no host sync per step ----------------------------------------------------------------------------
SYNCS = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select", "aten::unique",
         "aten::_unique2", "aten::is_nonzero"}


class SyncSpy(TorchDispatchMode):
    """Counts the ops that make the host wait for the device (`.item()`, `float()`, `bool()`, `.tolist()`
    and boolean-mask indexing dispatch to these) by the line that asked: `ours` when it is erbench's
    code, `theirs` when it is a library's (transformers' attention mask check, say)."""

    def __init__(self):
        super().__init__()
        self.ours: dict[str, int] = {}
        self.theirs: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name in SYNCS:
            caller = [f for f in traceback.extract_stack()[:-1] if f"{os.sep}torch{os.sep}" not in f.filename][-1]
            seen = self.ours if caller.filename.startswith(PACKAGE_DIRS) else self.theirs
            where = f"{func._schema.name} at {Path(caller.filename).name}:{caller.lineno} ({caller.line})"
            seen[where] = seen.get(where, 0) + 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("method", ["spert", "spert_mt"])
def test_a_training_step_asks_the_device_nothing(tokenizer, method: str) -> None:
    """The host syncs erbench's own code makes do not grow with the number of steps (old code: the loss
    read per step, a boolean mask per pooled range, SpERT.MT's gold-row masks)."""
    docs = documents("train") * 2  # the same documents again: more steps, the same kind of batch
    counts = []
    for n_docs in (4, 8):  # 2 and 4 steps an epoch
        with SyncSpy() as spy:
            train(tiny_config("inline", method, epochs=1, log_every=0), tokenizer, docs[:n_docs])
        counts.append(spy.ours)
    assert len(docs) >= 8
    model, _, _ = train(tiny_config("inline", method, epochs=1, log_every=0), tokenizer, docs[:2])
    encoded, _ = encode_documents(tokenizer, docs[:2], 128)
    with SyncSpy() as control:  # the spy sees a step that reads its losses (the old loop's step)
        train_step(model, encoded, np.random.default_rng(0), torch.optim.SGD(model.parameters(), lr=0.0),
                   pad_id=tokenizer.pad_token_id, device=torch.device("cpu"), read=True)
    assert any("train.py" in where for where in control.ours)
    grown = {k: (counts[0].get(k, 0), v) for k, v in counts[1].items() if v != counts[0].get(k, 0)}
    assert not grown, f"host syncs per step (2 steps, 4 steps): {grown}; libraries': {spy.theirs}"


def test_multitask_rows_by_index_are_the_mask_rows_bit_for_bit() -> None:
    gen = torch.Generator().manual_seed(1)
    n, m, c, r = 40, 30, 4, 3
    ent_targets = torch.randint(0, c + 1, (n,), generator=gen)
    rel_targets = (torch.rand(m, r, generator=gen) > 0.7).float()
    iou = torch.rand(n, generator=gen)
    results = []
    for by_index in (False, True):
        leaves = [torch.randn(shape, generator=torch.Generator().manual_seed(2 + i), requires_grad=True)
                  for i, shape in enumerate([(n,), (n, c), (m,), (m, r)])]
        rows = {"gold_rows": torch.nonzero(ent_targets > 0).squeeze(-1),
                "related_rows": torch.nonzero(rel_targets.sum(-1) > 0).squeeze(-1)} if by_index else {}
        total, parts = multitask_loss(leaves[0], leaves[1], ent_targets, iou, leaves[2], leaves[3], rel_targets,
                                      iou_mode="scale", delta=1.0, ranking="hinge", margin=1.0,
                                      weights=(1.0, 1.0, 1.0, 1.0), **rows)
        total.backward()
        results.append(([total, *parts.values()], [leaf.grad for leaf in leaves]))
    (values_a, grads_a), (values_b, grads_b) = results
    assert all(torch.equal(a, b) for a, b in zip(values_a, values_b))
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))


# -- determinism switches (CUDA) ----------------------------------------------------------------------
@pytest.fixture
def restore_numerics():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
              torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    yield
    (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) = before[:2]
    torch.use_deterministic_algorithms(before[2])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[3:5]
    if before[5] is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = before[5]


def test_configure_cuda_sets_and_reports_the_switches(restore_numerics, monkeypatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.backends.cudnn.benchmark = True
    settings = runtime.configure_cuda(tf32=False, deterministic=True)
    assert settings == {"tf32_matmul": False, "tf32_cudnn": False, "deterministic_algorithms": True,
                        "cudnn_deterministic": True, "cudnn_benchmark": False, "cublas_workspace_config": ":4096:8"}
    assert torch.are_deterministic_algorithms_enabled() and os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    settings = runtime.configure_cuda(tf32=True, deterministic=False)
    assert settings["tf32_matmul"] and settings["tf32_cudnn"] and not settings["deterministic_algorithms"]
    assert not torch.backends.cudnn.deterministic


def test_a_cpu_run_sets_no_cuda_switch(tokenizer, restore_numerics) -> None:
    torch.backends.cuda.matmul.allow_tf32 = True
    train(tiny_config("inline", epochs=1, tf32=False), tokenizer)
    assert torch.backends.cuda.matmul.allow_tf32 and not torch.are_deterministic_algorithms_enabled()


def test_an_op_without_a_deterministic_kernel_fails_naming_it(tokenizer, restore_numerics, monkeypatch) -> None:
    """Nothing between the step and the caller swallows torch's error (simulated on the CPU, where
    `put_` has no deterministic kernel either)."""
    forward = SpanRelationModel.loss_and_hidden

    def with_put(self, batch, stats=None, section=None):
        total, parts, h = forward(self, batch, stats, section)
        torch.zeros(3).put_(torch.tensor([0]), torch.tensor([1.0]))
        return total, parts, h

    monkeypatch.setattr(SpanRelationModel, "loss_and_hidden", with_put)
    torch.use_deterministic_algorithms(True)
    for ahead in ("inline", "thread"):
        with pytest.raises(RuntimeError, match="put_"):
            train(tiny_config(ahead, epochs=1), tokenizer)


# -- the thread policy --------------------------------------------------------------------------------
def test_the_wait_policy_is_passive_on_a_busy_start_and_libgomps_own_on_an_idle_one() -> None:
    env: dict[str, str] = {}
    assert runtime.set_process_policy(env, measure=lambda: 1.0) == {"OMP_WAIT_POLICY": "PASSIVE",
                                                                     "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "CUBLAS_WORKSPACE_CONFIG": ":4096:8", runtime.AUTO_MARK: "1"}
    env = {}
    assert runtime.set_process_policy(env, measure=lambda: 0.1) == {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    assert "OMP_WAIT_POLICY" not in env and env[runtime.AUTO_MARK] == "1"
    env = {}  # the load could not be read (not Linux): the policy that is safe on a busy machine
    assert runtime.set_process_policy(env, measure=lambda: None)["OMP_WAIT_POLICY"] == "PASSIVE"


def test_the_users_wait_policy_is_kept_and_an_erbench_parents_is_chosen_again() -> None:
    def never() -> float:
        raise AssertionError("the user chose a policy: nothing to measure")

    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "10000"}):
        env = dict(chosen, CUBLAS_WORKSPACE_CONFIG=":16:8")
        assert runtime.set_process_policy(env, measure=never) == {}
        assert env == dict(chosen, CUBLAS_WORKSPACE_CONFIG=":16:8")
    # a child of an erbench process that chose PASSIVE on a busy start chooses for itself: idle now
    env = {"OMP_WAIT_POLICY": "PASSIVE", runtime.AUTO_MARK: "1"}
    runtime.set_process_policy(env, measure=lambda: 0.0)
    assert "OMP_WAIT_POLICY" not in env


def test_the_start_sees_a_busy_process_beside_it() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        seen = runtime.busy_cpus(seconds=0.5)
    finally:
        busy.terminate()
        busy.wait()
    if seen is None:
        pytest.skip("no /proc/stat: the load cannot be read here (not Linux)")
    assert seen >= runtime.BUSY_FROM and runtime.choose_wait_policy(seen) == "PASSIVE"


def test_busy_cpus_counts_the_non_idle_share_of_the_usable_cpus(monkeypatch) -> None:
    snapshots = iter([{0: (100, 200), 1: (100, 200), 7: (0, 10)},  # cpu7 is not usable: ignored
                      {0: (110, 300), 1: (190, 300), 7: (0, 1000)}])
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1})
    assert runtime.busy_cpus(seconds=0.0, read=lambda: next(snapshots)) == pytest.approx(0.9 + 0.1)


def test_the_environment_records_the_thread_policy() -> None:
    from erbench.environment import capture

    env = capture("cpu")
    policy = env["thread_policy"]
    assert policy["threads"] == torch.get_num_threads() == env["threads"]
    assert 1 <= policy["usable_cpus"] <= (os.cpu_count() or 1)
    assert policy["omp_wait_policy"] == os.environ.get("OMP_WAIT_POLICY")
    assert "wait_policy_choice" in policy  # None until an erbench entry point ran in this process
    assert env["cuda_settings"] is None  # a CPU run: no CUDA switch is in force
