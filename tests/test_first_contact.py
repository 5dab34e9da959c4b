"""Issue 27: a researcher's first day. Nothing the user wrote is replaced unasked (suite use, evaluate --out,
predict --out), predict reads bad input in one line and raw text as the corpora are tokenised, evaluate
prints one line, --quiet goes anywhere, suite list describes, a dataset without dev trains, a run without
weights says how to get them. Trains only the tiny custom dataset with a tiny random BERT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.cli import main

from tests.conftest import TINY_SPLITS, tiny_train_args, write_tiny_dataset
from tests.test_robust import one_line_error

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def project(tmp_path, monkeypatch) -> Path:
    """A folder with the checkout's suites/ and params.yaml, as the working directory."""
    shutil.copytree(ROOT / "suites", tmp_path / "suites")
    shutil.copy(ROOT / "suites" / "embedded.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- --quiet anywhere, suite list --------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--quiet", "methods"], ["methods", "--quiet"], ["suite", "list", "--quiet"]])
def test_quiet_is_read_before_or_after_the_subcommand(args) -> None:
    ctx = main.make_context("erbench", list(args))
    assert ctx.params["quiet"] is True
    assert "--quiet" not in ctx.protected_args + ctx.args


def test_quiet_after_a_double_dash_is_an_argument() -> None:
    ctx = main.make_context("erbench", ["methods", "--", "--quiet"])
    assert ctx.params["quiet"] is False


def test_suite_list_gives_each_suite_its_description(project) -> None:
    result = CliRunner().invoke(main, ["suite", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(p.stem for p in (project / "suites").glob("*.yaml"))
    for line in lines:  # the header's first sentence, whole, where it runs over two comment lines too
        name, description = line.split(maxsplit=1)
        header = " ".join(row.lstrip("#").strip() for row in (project / "suites" / f"{name}.yaml").read_text()
                          .splitlines() if row.startswith("#"))
        assert header.startswith(f"erbench params: {description}"), (name, description)
        assert description.endswith(".") and description.count("(") == description.count(")"), description
    by_name = dict(line.split(maxsplit=1) for line in lines)
    assert by_name["ade-cpu"].endswith("mean over the folds).")  # two comment lines, one sentence


# -- nothing overwritten unasked ---------------------------------------------------------------------------
def test_suite_use_refuses_a_hand_edited_params_file_without_force(project) -> None:
    params = project / "params.yaml"
    assert CliRunner().invoke(main, ["suite", "use", "micro"]).exit_code == 0  # a suite's copy: replaced
    assert params.read_text() == (project / "suites" / "micro.yaml").read_text()
    edited = params.read_text().replace("seeds: [1, 2]", "seeds: [1, 2, 3]")
    params.write_text(edited)
    one_line_error(CliRunner().invoke(main, ["suite", "use", "embedded"]), "params.yaml", "matches none of the suites",
                   "--force")
    assert params.read_text() == edited
    result = CliRunner().invoke(main, ["suite", "use", "embedded", "--force"])
    assert result.exit_code == 0, result.output
    assert params.read_text() == (project / "suites" / "embedded.yaml").read_text()


def test_evaluate_and_predict_refuse_an_existing_out_file_without_force(staged, trained, tmp_path) -> None:
    root, _ = staged
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    text = tmp_path / "in.txt"
    text.write_text("John Smith works for Acme.\n")
    evaluate = ["--quiet", "evaluate", str(trained), "--data-root", str(root), "--device", "cpu", "--out", str(notes)]
    predict = ["--quiet", "predict", str(trained), str(text), "--device", "cpu", "--out", str(notes)]
    for args in (evaluate, predict):
        one_line_error(CliRunner().invoke(main, args), str(notes), "exists", "--force")
        assert notes.read_text() == "mine"
    result = CliRunner().invoke(main, [*evaluate, "--force"])
    assert result.exit_code == 0, result.output
    assert "test/ner/micro_f1" in json.loads(notes.read_text())
    result = CliRunner().invoke(main, [*predict, "--force"])
    assert result.exit_code == 0, result.output
    assert json.loads(notes.read_text())["tokens"][-1] == "."


# -- evaluate: one line, --json for the rest -----------------------------------------------------------------
def test_evaluate_prints_one_summary_line_and_json_on_request(staged, trained) -> None:
    root, _ = staged
    args = ["--quiet", "evaluate", str(trained), "--data-root", str(root), "--device", "cpu"]
    line = CliRunner().invoke(main, args)
    assert line.exit_code == 0, line.output
    full = CliRunner().invoke(main, [*args, "--json"])
    assert full.exit_code == 0, full.output
    metrics = json.loads(full.stdout)
    (text,) = line.stdout.splitlines()
    assert text.startswith(f"{trained.name} test: NER {metrics['test/ner/micro_f1']:.2f}  RE "
                           f"{metrics['test/rel/micro_f1']:.2f}  RE+ {metrics['test/rel_strict/micro_f1']:.2f}")


# -- predict -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "said"), [
    (b"John works for Acme \xff\xfe.\n", "not UTF-8"),
    (b"", "empty input"),
    (b"\n  \n", "empty input"),
    (b"[]", "empty JSON list"),
    (b'[{"tokens": ["a"]}', "malformed JSON"),
    (b'{"tokens": ["a"]}\n{"tokens": \n', "line 2: malformed JSON"),
])
def test_predict_bad_input_is_one_line(trained, tmp_path, content, said) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["--quiet", "predict", str(trained), str(path), "--device", "cpu"])
    one_line_error(result, str(path), said)


def test_predict_splits_punctuation_keeps_ids_and_gives_entity_text(trained, tmp_path) -> None:
    text = tmp_path / "input.txt"
    text.write_text("Karl Weber works for Globex, a company in Bern.\n")
    result = CliRunner().invoke(main, ["--quiet", "predict", str(trained), str(text), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert row["tokens"] == ["Karl", "Weber", "works", "for", "Globex", ",", "a", "company", "in", "Bern", "."]
    lines = tmp_path / "input.jsonl"
    docs = [{"id": "a-1", "text": "U.S. firms (e.g. Acme) hire."},
            {"orig_id": 7, "tokens": TINY_SPLITS["test"][0]["tokens"]}]
    lines.write_text("".join(json.dumps(d) + "\n" for d in docs))
    result = CliRunner().invoke(main, ["--quiet", "predict", str(trained), str(lines), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a-1", 7]
    assert rows[0]["tokens"] == ["U", ".", "S", ".", "firms", "(", "e", ".", "g", ".", "Acme", ")", "hire", "."]
    entities = [(r, e) for r in rows for e in r["entities"]]
    assert entities  # the tiny model finds entities in its own test document
    for r, e in entities:
        assert e["text"] == " ".join(r["tokens"][e["start"]:e["end"]])
    import erbench

    (doc,) = erbench.load_run(trained, device="cpu").predict(["Globex, in Bern."])
    assert doc["tokens"] == ["Globex", ",", "in", "Bern", "."]


# -- a dataset without dev; a run without weights -----------------------------------------------------------
def test_a_dataset_without_dev_trains_and_a_named_dev_split_says_how_to_skip_it(tmp_path) -> None:
    params = write_tiny_dataset(tmp_path / "src")
    declared = yaml.safe_load(params.read_text())
    del declared["data"]["custom"]["tiny"]["splits"]["dev"]  # train and test, as the README's example
    params.write_text(yaml.safe_dump(declared))
    root = tmp_path / "data"
    assert CliRunner().invoke(main, ["--quiet", "data", "stage", "tiny", "--params", str(params), "--data-root",
                                     str(root)]).exit_code == 0
    one_line_error(CliRunner().invoke(main, tiny_train_args(root, params, tmp_path / "r0", "--dev-split", "dev")),
                   "--dev-split dev", "no split 'dev'", "--dev-split none", "protocol.tiny.dev_split")
    result = CliRunner().invoke(main, tiny_train_args(root, params, tmp_path / "r1"))
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r1" / "config.json").read_text())
    assert config["run"]["dev_split"] is None


def test_a_run_without_weights_says_how_to_get_them(staged, trained, tmp_path) -> None:
    root, _ = staged
    run = tmp_path / "spert-tiny-s1"
    shutil.copytree(trained, run)
    (run / "model.safetensors").unlink()
    text = tmp_path / "in.txt"
    text.write_text("John Smith works for Acme.\n")
    for args in (["evaluate", str(run), "--data-root", str(root)], ["predict", str(run), str(text)],
                 ["diagnose", str(run), "--data-root", str(root)]):
        one_line_error(CliRunner().invoke(main, ["--quiet", *args, "--device", "cpu"]), "no model weights",
                       "train.save_weights: true", "--set save_weights=true", "grid run", "--weights")


# -- an unknown encoder fails at once --------------------------------------------------------------------------
@pytest.mark.slow
def test_an_unknown_encoder_without_a_reachable_hub_fails_at_once(tmp_path) -> None:
    """Not marked offline (no HF_HUB_OFFLINE) and no hub to reach: one line after one attempt per request, where
    the loaders retry for about a minute."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))  # nothing listens on port 9
    # counted, not timed (a loaded machine makes any time limit flaky): the loaders retry an unreachable hub
    # for about a minute, so "at once" means no retries: each request's one connection attempt, then the line
    code = ("import socket, sys\n"
            "attempts = []\n"
            "connect = socket.socket.connect\n"
            "def counted(self, address):\n    attempts.append(address)\n    return connect(self, address)\n"
            "socket.socket.connect = counted\n"
            "from erbench.models.encoder import EncoderError, load_tokenizer\n"
            "try:\n    load_tokenizer('someone/no-such-encoder')\n"
            "except EncoderError as exc:\n    print(exc)\n"
            "print(len([a for a in attempts if a[1] == 9]), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # huggingface_hub asks the endpoint once for its agent registry, then model_info asks once
    assert int(proc.stderr.strip().splitlines()[-1]) <= 2, proc.stderr[-2000:]
    (line,) = proc.stdout.splitlines()
    assert "someone/no-such-encoder" in line and "hub cannot be reached" in line


def test_console_lines_are_never_broken_at_its_width(capsys) -> None:
    """Off a terminal rich's width is 80 columns: a run id or a path at the end of a long line must stay on it
    (the MLflow line in DVC's logs was broken before its run id)."""
    from erbench.cli._common import console

    line = "logged to MLflow (sqlite:///" + "x" * 120 + "/mlflow.db, experiment micro): run c91375f7aec448c5"
    console.print(line, highlight=False)
    assert capsys.readouterr().err == line + "\n"
