"""Determinism of the training loop (SPEC 6) and the `erbench train / evaluate / predict` commands."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from erbench import scoring
from erbench.cli import main
from erbench.config import ModelOptions, RunConfig, TrainOptions
from erbench.datasets.load import Document, Entity, Relation
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.train import RunData, evaluate, train_model

from tests.conftest import TINY_SPLITS, make_types, tiny_train_args

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module


TYPES = make_types(relations=("Work_For", "Near"))


def documents(split: str) -> list[Document]:
    out = []
    for i, d in enumerate(TINY_SPLITS[split]):
        ents = tuple(Entity(e["type"], e["start"], e["end"]) for e in d["entities"])
        rels = tuple(Relation(r["type"], r["head"], r["tail"]) for r in d["relations"])
        out.append(Document(tuple(d["tokens"]), ents, rels, d["orig_id"], i))
    return out


# -- determinism (SPEC 6) --------------------------------------------------------------------------
def run_once(cfg: RunConfig, tokenizer) -> tuple[list[dict], list[Document], dict]:
    data = RunData(TYPES, documents("train"), documents("test"), None)
    encoder = (tiny_encoder(tokenizer, seed=cfg.seed), tokenizer)  # == load_encoder("tiny-random", cfg.seed)
    model, tok, history, info = train_model(cfg, data, encoder=encoder)
    enc, _ = encode_documents(tok, data.eval, info["max_length"])
    preds = evaluate(model, enc, tok.pad_token_id, torch.device("cpu"), batch_size=2)
    metrics = scoring.flatten_metrics(scoring.score(data.eval, preds, TYPES), "test")
    losses = [{k: v for k, v in rec.items() if k.startswith("train/")} for rec in history]
    return losses, preds, metrics


def tiny_config(seed: int, method_options: ModelOptions | None = None) -> RunConfig:
    train = TrainOptions(encoder="tiny-random", epochs=2, lr=1e-3, device="cpu", threads=1,
                         eval_dev_every_epoch=False)
    model = method_options or ModelOptions(neg_entity_count=8, neg_relation_count=2)
    return RunConfig("tiny", "spert", seed, dev_split=None, model=model, train=train)


def test_same_seed_is_bitwise_identical_and_another_seed_differs(tokenizer) -> None:
    losses_a, preds_a, metrics_a = run_once(tiny_config(3), tokenizer)
    losses_b, preds_b, metrics_b = run_once(tiny_config(3), tokenizer)
    assert len(losses_a) == 2 and set(losses_a[0]) == {"train/loss", "train/entity", "train/relation"}
    assert losses_a == losses_b  # exact float equality
    assert preds_a == preds_b
    assert metrics_a == metrics_b
    losses_c, _, _ = run_once(tiny_config(4), tokenizer)
    assert losses_c[0]["train/loss"] != losses_a[0]["train/loss"]
    assert losses_c[1]["train/loss"] != losses_a[1]["train/loss"]


def test_same_seed_identical_for_spert_mt(tokenizer) -> None:
    from erbench.models.registry import method_options

    options = method_options("spert_mt", {"neg_entity_count": 8, "neg_relation_count": 2})
    cfg = replace(tiny_config(5, options), method="spert_mt")
    first, preds_1, _ = run_once(cfg, tokenizer)
    second, preds_2, _ = run_once(cfg, tokenizer)
    assert first == second and preds_1 == preds_2
    assert set(first[0]) == {"train/loss", "train/entity_id", "train/entity_cls", "train/relation_id",
                             "train/relation_cls"}


def test_too_few_training_documents_is_a_clear_error(tokenizer) -> None:
    cfg = tiny_config(0)
    cfg = replace(cfg, train=replace(cfg.train, batch_size=8))
    data = RunData(TYPES, documents("train"), documents("test"), None)
    with pytest.raises(ValueError, match="fewer than batch_size=8"):
        train_model(cfg, data, encoder=(tiny_encoder(tokenizer, seed=0), tokenizer))


# -- the command line --------------------------------------------------------------------------------
def test_train_writes_the_run_folder(trained: Path) -> None:
    assert sorted(p.name for p in trained.iterdir()) == [
        ".erbench", "config.json", "environment.json", "metrics.json", "model.safetensors", "predictions.jsonl",
        "steps.jsonl", "summary.json"]
    metrics = json.loads((trained / "metrics.json").read_text())
    for key in ("test/rel_strict/micro_f1", "test/rel/micro_f1", "test/ner/micro_f1", "test/ner/macro_f1"):
        assert 0.0 <= metrics["metrics"][key] <= 100.0, key
    timing = metrics["timing"]
    assert timing["seconds_per_epoch"] > 0 and timing["train_sentences_per_s"] > 0
    assert timing["eval_sentences_per_s"] > 0 and timing["peak_rss_mb"] > 0
    assert metrics["run"] == {"name": "spert-tiny-s1", "dataset": "tiny", "method": "spert", "seed": 1, "fold": None}
    assert metrics["protocol"]["neg_entity_count"] == 10 and metrics["protocol"]["epochs"] == 1
    assert len(metrics["history"]) == 1 and "train/loss" in metrics["history"][0]
    assert any(k.startswith("dev/") for k in metrics["history"][0])  # the custom dataset has a dev split
    assert set(metrics["data"]["sha256"]) == {"tiny_train.json", "tiny_test.json"}

    rows = [json.loads(line) for line in (trained / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == len(TINY_SPLITS["test"])
    for row, gold in zip(rows, TINY_SPLITS["test"]):
        assert row["tokens"] == gold["tokens"] and row["orig_id"] == gold["orig_id"]
        assert row["gold"] == {"entities": gold["entities"], "relations": gold["relations"]}
        assert set(row["pred"]) == {"entities", "relations"}

    config = json.loads((trained / "config.json").read_text())
    assert config["run"]["method"] == "spert" and config["run"]["seed"] == 1
    assert config["run"]["model"]["neg_entity_count"] == 10
    assert config["run"]["train"]["encoder"] == "tiny-random" and config["run"]["train"]["epochs"] == 1
    assert list(config["types"]["relations"]) == ["Work_For", "Near"]
    assert config["types"]["relations"]["Near"]["symmetric"] is True
    assert not [p for p in trained.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_evaluate_rescores_to_the_same_metrics(trained: Path, staged) -> None:
    root, params = staged
    result = CliRunner().invoke(main, ["--quiet", "evaluate", str(trained), "--split", "test", "--data-root",
                                       str(root), "--params", str(params), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    rescored = json.loads(result.stdout)
    decoding = rescored.pop("decoding")  # the decoding options used (evaluate --set can change them)
    config = json.loads((trained / "config.json").read_text())["run"]["model"]
    assert decoding == {k: config[k] for k in ("entity_threshold", "rel_filter_threshold", "mt_decision", "rel_gate",
                                                "cb_decision")}
    assert rescored == json.loads((trained / "metrics.json").read_text())["metrics"]


def test_predict_prints_spert_json(trained: Path, tmp_path: Path) -> None:
    text = tmp_path / "input.txt"
    text.write_text("John Smith works for Acme .\n\nMary lives in Rome\n")
    result = CliRunner().invoke(main, ["--quiet", "predict", str(trained), str(text), "--device", "cpu",
                                       "--format", "spert"])
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert [d["tokens"] for d in docs] == [["John", "Smith", "works", "for", "Acme", "."], [],
                                          ["Mary", "lives", "in", "Rome"]]
    for d in docs:
        assert set(d) >= {"tokens", "entities", "relations"}
        for e in d["entities"]:
            assert e["type"] in TYPES.entities and 0 <= e["start"] < e["end"] <= len(d["tokens"])
        for r in d["relations"]:
            assert r["type"] in TYPES.relations and 0 <= r["head"] < len(d["entities"])


def test_bad_set_key_is_one_line_and_exit_2(staged, tmp_path: Path) -> None:
    root, params = staged
    out = tmp_path / "run"
    result = CliRunner().invoke(main, tiny_train_args(root, params, out, "--set", "foo=1"))
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "'foo'" in message and message.startswith("error:")
    assert not out.exists()


@pytest.mark.parametrize("target", ["erbench.steps.sample_document", "safetensors.torch.save_file"])
def test_interrupted_run_leaves_nothing_behind(staged, tmp_path: Path, monkeypatch, target: str) -> None:
    root, params = staged

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupt)
    runs = tmp_path / "runs"
    out = runs / "spert-tiny-s1"
    result = CliRunner().invoke(main, tiny_train_args(root, params, out))
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.stderr
    assert not out.exists()
    if target == "erbench.steps.sample_document":  # in the first step: no epoch to keep
        assert not runs.exists() or list(runs.iterdir()) == []
    else:  # after the training: only its state, which the same command continues from (tests/test_resume.py)
        assert [p.name for p in runs.iterdir()] == [".erbench-resume"]
        assert "state after epoch 1 is kept" in result.stderr and "same command continues" in result.stderr


def test_step_log_records_the_training_loss_every_n_steps(trained: Path) -> None:
    rows = [json.loads(line) for line in (trained / "steps.jsonl").read_text().splitlines()]
    config = json.loads((trained / "config.json").read_text())
    every = config["run"]["train"]["log_every"]
    assert every == 2 and len(rows) >= 1, "the fixture trains with log_every=2"
    assert [r["step"] for r in rows] == list(range(every, every * len(rows) + 1, every))
    assert all(r["time"] > 1e9 and r["seconds"] >= 0 and r["lr"] > 0 for r in rows)
    assert all({"train/loss", "train/entity", "train/relation"} <= set(r) for r in rows)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
