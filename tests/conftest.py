"""Shared pytest fixtures and factories: types, documents, the tiny staged dataset and its trained run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.datasets.load import TypeInventory


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The checkout's sibling `shared` folder (datasets, golden fixtures); skip when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared"
    if not path.is_dir():
        pytest.skip("../shared not found: golden evaluator test runs in CI")
    return path


# Tests never touch the network: encoders come from local files, data from ../shared or tmp.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


# ---------------------------------------------------------------- factories shared by the tests


def make_types(entities=("Peop", "Org", "Loc"), relations=("Work_For", "Live_In", "Near"),
               symmetric=("Near",)) -> TypeInventory:
    """A TypeInventory; symmetric types not among `relations` are dropped."""
    return TypeInventory(tuple(entities), tuple(relations), frozenset(s for s in symmetric if s in relations))


# The tiny custom dataset the command-line tests stage and train on (4 train, 2 dev, 3 test documents).
TINY_TYPES_JSON = {
    "entities": {"Peop": {"short": "P", "verbose": "People"}, "Org": {"short": "O", "verbose": "Org"},
                 "Loc": {"short": "L", "verbose": "Location"}},
    "relations": {"Work_For": {"short": "W", "verbose": "Work for", "symmetric": False},
                  "Near": {"short": "N", "verbose": "Near", "symmetric": True}},
}


def tiny_raw_doc(i: int) -> dict:
    people = ["John", "Mary", "Anna", "Paul", "Lena", "Omar"]
    orgs = ["Acme", "Initech", "Globex"]
    towns = ["Paris", "Rome", "Oslo", "Lima"]
    return {
        "tokens": [people[i % 6], "Smith", "works", "for", orgs[i % 3], "near", towns[i % 4], "."],
        "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 5},
                     {"type": "Loc", "start": 6, "end": 7}],
        "relations": [{"type": "Work_For", "head": 0, "tail": 1}, {"type": "Near", "head": 2, "tail": 1}],
        "orig_id": i,
    }


TINY_SPLITS = {"train": [tiny_raw_doc(i) for i in range(4)], "dev": [tiny_raw_doc(i) for i in range(4, 6)],
               "test": [tiny_raw_doc(i) for i in range(6, 9)]}


def write_tiny_dataset(folder: Path) -> Path:
    """The tiny custom dataset in SpERT JSON and the params.yaml that registers it (as `tiny`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "types.json").write_text(json.dumps(TINY_TYPES_JSON))
    for split, docs in TINY_SPLITS.items():
        (folder / f"{split}.json").write_text(json.dumps(docs))
    params = {"data": {"custom": {"tiny": {"types": str(folder / "types.json"),
                                           "splits": {s: str(folder / f"{s}.json") for s in TINY_SPLITS}}}}}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def tiny_train_args(root: Path, params: Path, out: Path, *extra: str) -> list[str]:
    """`erbench train` of spert on the tiny dataset: one epoch of a tiny random BERT on one CPU thread."""
    return ["--quiet", "train", "--dataset", "tiny", "--encoder", "tiny-random", "--epochs", "1",
            "--method", "spert", "--seed", "1", "--set", "neg_entity_count=10", "--set", "threads=1",
            "--set", "device=cpu", "--set", "log_every=2", "--data-root", str(root), "--out", str(out),
            "--params", str(params), *extra]


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, params.yaml) with the tiny dataset staged by `erbench data stage`; one per test module."""
    from erbench.cli import main

    base = tmp_path_factory.mktemp("staged")
    params = write_tiny_dataset(base / "src")
    root = base / "data"
    result = CliRunner().invoke(main, ["--quiet", "data", "stage", "tiny", "--params", str(params),
                                       "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    return root, params


@pytest.fixture(scope="module")
def trained(staged, tmp_path_factory) -> Path:
    """A run folder `spert-tiny-s1` trained by `erbench train` on the staged tiny dataset."""
    from erbench.cli import main

    root, params = staged
    out = tmp_path_factory.mktemp("runs") / "spert-tiny-s1"
    result = CliRunner().invoke(main, tiny_train_args(root, params, out))
    assert result.exit_code == 0, result.output
    assert "spert-tiny-s1" in result.stderr and "RE+" in result.stderr
    assert "epochs: 1/1" not in result.stderr  # --quiet: no progress lines either (tests/test_progress.py)
    return out


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread (modules opt in with pytestmark usefixtures): tiny models run much faster than
    with threads fighting over busy cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny random BERT tokenizer (a module may define its own `tokenizer` instead)."""
    from erbench.models.encoder import load_tokenizer

    return load_tokenizer("tiny-random")
