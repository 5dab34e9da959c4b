"""Issue 12: nothing lost, nothing hidden (outputs, long documents, bad input, custom datasets, quiet,
predict, the Python API). Trains only the tiny custom dataset of test_train with a tiny random BERT."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.cli import main

from tests.conftest import TINY_SPLITS, TINY_TYPES_JSON, tiny_train_args, write_tiny_dataset

REPO = Path(__file__).resolve().parents[1]


def one_line_error(result, *parts: str) -> str:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("error:"), message
    assert "Traceback" not in result.output
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


# -- 1. existing outputs ---------------------------------------------------------------------------------
def test_train_refuses_a_non_empty_folder_and_force_replaces_only_run_folders(staged, trained, tmp_path) -> None:
    root, params = staged
    notes = tmp_path / "mine"
    notes.mkdir()
    (notes / "notes.txt").write_text("my notes")
    result = CliRunner().invoke(main, tiny_train_args(root, params, notes))
    one_line_error(result, str(notes), "not empty", "--force")
    result = CliRunner().invoke(main, tiny_train_args(root, params, notes, "--force"))
    one_line_error(result, "not a run folder written by erbench", "even with --force")
    assert (notes / "notes.txt").read_text() == "my notes"
    # a run folder of erbench's is replaced with --force, and only then
    run = tmp_path / "runs" / "spert-tiny-s1"
    shutil.copytree(trained, run)
    result = CliRunner().invoke(main, tiny_train_args(root, params, run))
    one_line_error(result, "not empty")
    before = (run / "metrics.json").stat().st_mtime_ns
    result = CliRunner().invoke(main, tiny_train_args(root, params, run, "--force"))
    assert result.exit_code == 0, result.output
    assert (run / "metrics.json").stat().st_mtime_ns != before and (run / ".erbench").is_file()
    # `--out runs` (a folder of run folders) is never a run folder
    result = CliRunner().invoke(main, tiny_train_args(root, params, run.parent, "--force"))
    one_line_error(result, "not a run folder")
    assert (run / "metrics.json").is_file()


def test_report_refuses_a_non_empty_folder_and_force_replaces_only_reports(trained, tmp_path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(trained, runs / trained.name)
    args = ["--quiet", "report", str(runs), "--aso-bootstrap", "0", "--ar-trials", "0", "--data-root",
            str(tmp_path / "nodata")]
    mine = tmp_path / "paper"
    mine.mkdir()
    (mine / "draft.tex").write_text("mine")
    one_line_error(CliRunner().invoke(main, [*args, "--out", str(mine)]), "not empty", "--force")
    one_line_error(CliRunner().invoke(main, [*args, "--out", str(mine), "--force"]), "not a report folder")
    assert (mine / "draft.tex").read_text() == "mine"
    out = tmp_path / "reports"
    assert CliRunner().invoke(main, [*args, "--out", str(out)]).exit_code == 0
    (out / "stale.png").write_text("old figure")  # replaced as a whole: nothing stale survives
    one_line_error(CliRunner().invoke(main, [*args, "--out", str(out)]), "not empty")
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert (out / "stats.json").is_file() and not (out / "stale.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


# -- 2. umask --------------------------------------------------------------------------------------------
def test_outputs_get_the_users_umask(tmp_path) -> None:
    from erbench.files import write_folder_atomic, write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        import torch
        from safetensors.torch import save_file

        folder = write_folder_atomic(tmp_path / "run", {"config.json": "{}"},  # safetensors writes 0600 itself
                                     also=lambda tmp: save_file({"w": torch.zeros(1)}, str(tmp / "model.safetensors")))
        os.umask(0o077)
        write_text_atomic(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    mode = lambda p: p.stat().st_mode & 0o777  # noqa: E731
    assert mode(tmp_path / "a.txt") == 0o644 and mode(folder) == 0o755
    assert mode(folder / "config.json") == 0o644 and mode(folder / "model.safetensors") == 0o644
    assert mode(tmp_path / "private.txt") == 0o600  # a private umask is honoured too


# -- 3. truncation is visible ----------------------------------------------------------------------------
def long_dataset(folder: Path) -> Path:
    """The tiny dataset with one test document far longer than max_length=24 pieces."""
    params = write_tiny_dataset(folder)
    test = json.loads((folder / "test.json").read_text())
    words = test[0]["tokens"] * 6
    ents = [{"type": "Peop", "start": 40, "end": 42}, {"type": "Org", "start": 44, "end": 45}]
    test.append({"tokens": words, "entities": ents, "relations": [{"type": "Work_For", "head": 0, "tail": 1}],
                 "orig_id": "long"})
    (folder / "test.json").write_text(json.dumps(test))
    return params


@pytest.fixture(scope="module")
def long_staged(tmp_path_factory):
    base = tmp_path_factory.mktemp("long")
    params = long_dataset(base / "src")
    root = base / "data"
    result = CliRunner().invoke(main, ["--quiet", "data", "stage", "tiny", "--params", str(params),
                                       "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    return root, params, base


def test_truncation_warns_logs_and_the_report_refuses_it(long_staged, tmp_path) -> None:
    root, params, _ = long_staged
    out = tmp_path / "runs" / "spert-tiny-s1"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(main, tiny_train_args(root, params, out, "--set", "max_length=24", "--set",
                                                 "long_documents=truncate", "--track", "--mlflow-uri", uri))
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("warning: test: 1 of 4 documents truncated"), result.stderr
    assert "gold entities cut" in lines[0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["warnings"] and metrics["data"]["eval_encoding"]["cut_entities"] == 2
    from mlflow.tracking import MlflowClient

    (mlrun,) = MlflowClient(uri).search_runs(["1"])
    assert mlrun.data.metrics["data/eval:test/cut_entities"] == 2
    assert "gold entities cut" in mlrun.data.tags["erbench.warnings"]
    # evaluate says it too
    result = CliRunner().invoke(main, ["--quiet", "evaluate", str(out), "--data-root", str(root), "--device", "cpu"])
    assert result.exit_code == 0 and "warning: test: 1 of 4 documents truncated" in result.stderr
    # the report refuses, unless allowed; then it is in the warnings and the protocol card
    args = ["--quiet", "report", str(out.parent), "--aso-bootstrap", "0", "--ar-trials", "0", "--data-root",
            str(root)]
    one_line_error(CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r1")]), "lost gold entities",
                   "--allow-truncated")
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r2"), "--allow-truncated"])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "r2" / "stats.json").read_text())
    assert any("gold entities cut" in w for w in stats["warnings"])
    md = (tmp_path / "r2" / "results.md").read_text()
    assert re.search(r"\| long documents \| truncate; eval split over all runs: 1 documents truncated, \d+ words "
                     r"and 2 gold entities cut", md)


def test_window_policy_keeps_every_gold_entity_end_to_end(long_staged, tmp_path) -> None:
    root, params, _ = long_staged
    out = tmp_path / "spert-tiny-s1"
    result = CliRunner().invoke(main, tiny_train_args(root, params, out, "--set", "max_length=24"))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    enc = metrics["data"]["eval_encoding"]
    assert enc["windowed_documents"] == 1 and enc["cut_entities"] == enc["cut_words"] == 0
    assert metrics["data"]["long_documents"] == "window" and metrics["warnings"] == []
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows[-1]["tokens"]) == 48 and all(e["end"] <= 48 for e in rows[-1]["pred"]["entities"])


# -- 5. malformed datasets name the user's file, document and field ---------------------------------------
GOOD_DOC = TINY_SPLITS["train"][0]


def _doc(**change) -> dict:
    d = json.loads(json.dumps(GOOD_DOC))
    d.update(change)
    return d


DEFECTS = {  # id: (file content (bytes, or JSON value), expected parts besides the file name)
    "json syntax": (b'[{"tokens": ["a"],}]', ["malformed JSON at line 1"]),
    "empty file": (b"", ["empty file"]),
    "non-utf8": (b'[{"tokens": ["caf\xe9"]}]', ["not UTF-8"]),
    "wrong top level": ({"documents": []}, ["expected a JSON list of documents, got dict"]),
    "missing key": ([GOOD_DOC, {k: v for k, v in GOOD_DOC.items() if k != "entities"}],
                    ["document 1 (0-based)", "missing key 'entities'"]),
    "mistyped key": ([_doc(tokens="John works")], ["document 0 (0-based)", "'tokens' must be a list"]),
    "mistyped start": ([_doc(entities=[{"type": "Peop", "start": "0", "end": 2}])],
                       ["document 0 (0-based)", "entities[0].start", "expected an integer"]),
    "bad span end": ([_doc(entities=[{"type": "Peop", "start": 0, "end": 99}], relations=[])],
                     ["document 0 (0-based)", "entities[0].end", "beyond the document's 8 tokens"]),
    "bad span start": ([_doc(entities=[{"type": "Peop", "start": -1, "end": 1}], relations=[])],
                       ["document 0 (0-based)", "entities[0].start", "negative"]),
    "empty span": ([_doc(entities=[{"type": "Peop", "start": 2, "end": 2}], relations=[])],
                   ["entities[0].end", "must be greater than start 2"]),
    "unknown type": ([_doc(entities=[{"type": "Person", "start": 0, "end": 2}], relations=[])],
                     ["document 0 (0-based)", "entities[0].type", "'Person' is not an entity type"]),
    "relation index": ([_doc(relations=[{"type": "Work_For", "head": 0, "tail": 7}])],
                       ["document 0 (0-based)", "relations[0].tail", "entity index 7 out of range"]),
    "duplicate entity": ([_doc(entities=[*GOOD_DOC["entities"], {"type": "Org", "start": 0, "end": 2}])],
                         ["document 0 (0-based)", "entities[3]", "duplicate entity span start=0, end=2"]),
}
TYPES_DEFECTS = {
    "types empty": (b"", ["empty file"]),
    "types top level": (["Peop"], ["must be a JSON object"]),
    "types missing relations": ({"entities": TINY_TYPES_JSON["entities"]}, ["missing key 'relations'"]),
    "types symmetric": ({**TINY_TYPES_JSON, "relations": {"Work_For": {"symmetric": "no"}}},
                        ["relations.Work_For.symmetric must be true or false"]),
    "types spec": ({**TINY_TYPES_JSON, "entities": {"Peop": "P"}}, ["entities.Peop must be an object"]),
}


@pytest.mark.parametrize("name", [*DEFECTS, *TYPES_DEFECTS])
def test_a_malformed_custom_dataset_names_the_users_file(tmp_path, name) -> None:
    params = write_tiny_dataset(tmp_path / "src")
    content, parts = DEFECTS.get(name) or TYPES_DEFECTS[name]
    target = tmp_path / "src" / ("types.json" if name in TYPES_DEFECTS else "train.json")
    target.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    root = tmp_path / "data"
    result = CliRunner().invoke(main, ["--quiet", "data", "stage", "tiny", "--params", str(params),
                                       "--data-root", str(root)])
    message = one_line_error(result, f"error: {target}: ", *parts)
    assert "staging" not in message and "raw/tiny" not in message
    assert not root.exists(), "nothing may be left under the data root"


# -- 6. clear errors --------------------------------------------------------------------------------------
def test_unknown_encoder_offline_is_one_line(staged, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root, params = staged
    args = [a if a != "tiny-random" else "nosuch" for a in tiny_train_args(root, params, tmp_path / "run")]
    one_line_error(CliRunner().invoke(main, args), "encoder 'nosuch' is neither a known alias", "local directory",
                   "offline")
    assert not (tmp_path / "run").exists()


def test_epochs_zero_names_epochs(staged, tmp_path) -> None:
    root, params = staged
    args = tiny_train_args(root, params, tmp_path / "run")
    args[args.index("--epochs") + 1] = "0"
    message = one_line_error(CliRunner().invoke(main, args), "--epochs", ">= 1")
    assert "--set" not in message


def test_report_baseline_and_average_must_exist(trained, tmp_path) -> None:
    args = ["--quiet", "report", str(trained.parent), "--out", str(tmp_path / "r"), "--aso-bootstrap", "0",
            "--ar-trials", "0"]
    one_line_error(CliRunner().invoke(main, [*args, "--baseline", "nosuch"]), "--baseline nosuch",
                   "no run of method 'nosuch'", "methods: spert")
    one_line_error(CliRunner().invoke(main, [*args, "--average", "nosuch=macro"]), "--average nosuch=macro",
                   "no run of dataset 'nosuch'", "datasets: tiny")
    one_line_error(CliRunner().invoke(main, [*args, "--average", "tiny=median"]), "--average")
    assert not (tmp_path / "r").exists()


# -- 7. custom datasets are first-class --------------------------------------------------------------------
def test_a_staged_custom_dataset_needs_no_params_afterwards(tmp_path) -> None:
    params = write_tiny_dataset(tmp_path / "src")
    raw = yaml.safe_load(params.read_text())
    raw["data"]["custom"]["tiny"].update(display_name="TinyCorp", relation="rel", average="macro")
    params.write_text(yaml.safe_dump(raw))
    root = tmp_path / "data"
    result = CliRunner().invoke(main, ["data", "stage", "tiny", "--params", str(params), "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    assert "canonical URLs" not in result.stderr and "local files" in result.stderr
    manifest = json.loads((root / "raw" / "tiny" / "STAGED.json").read_text())
    assert manifest["origin"] == "local files (params data.custom)"
    assert manifest["custom"]["sources"]["tiny_train.json"] == str(tmp_path / "src" / "train.json")
    # the types file's long names are kept
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split

    _, types = load_split(root, resolve("tiny", None, root), "train")
    assert types.to_json()["entities"]["Loc"] == {"short": "L", "verbose": "Location"}
    # stats, train, evaluate and report without --params
    result = CliRunner().invoke(main, ["data", "stats", "tiny", "--data-root", str(root), "--json"])
    assert result.exit_code == 0 and set(json.loads(result.stdout)) == {"train", "dev", "test"}
    args = [a for a in tiny_train_args(root, params, tmp_path / "runs" / "spert-tiny-s1") if a != str(params)]
    args.remove("--params")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "runs" / "spert-tiny-s1" / "config.json").read_text())
    assert config["types"]["relations"]["Work_For"]["verbose"] == "Work for"
    result = CliRunner().invoke(main, ["--quiet", "evaluate", str(tmp_path / "runs" / "spert-tiny-s1"),
                                       "--data-root", str(root), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--quiet", "report", str(tmp_path / "runs"), "--out", str(tmp_path / "r"),
                                       "--aso-bootstrap", "0", "--ar-trials", "0", "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "r" / "stats.json").read_text())
    assert stats["datasets"]["tiny"]["average"] == "macro"  # the declared headline average
    md = (tmp_path / "r" / "results.md").read_text()
    assert "TinyCorp" in md and "RE (boundaries: spans only)" in md
    assert "tiny" not in stats.get("seen_unseen", {}).get("skipped", {})  # seen/unseen found its training data


def test_a_custom_dataset_may_not_shadow_a_built_in(tmp_path) -> None:
    params = write_tiny_dataset(tmp_path / "src")
    raw = yaml.safe_load(params.read_text())
    raw["data"]["custom"]["synthetic"] = raw["data"]["custom"].pop("tiny")
    params.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["data", "stage", "synthetic", "--params", str(params), "--data-root",
                                       str(tmp_path / "data")])
    one_line_error(result, "data.custom.synthetic", "built-in dataset name")


# -- 8. quiet is quiet --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_quiet_silences_third_party_progress_and_info_but_keeps_warnings(staged, tmp_path) -> None:
    root, params = staged
    out = tmp_path / "run"
    args = [a if a != "tiny-random" else "minilm" for a in tiny_train_args(root, params, out)]
    args += ["--set", "max_length=8", "--set", "long_documents=truncate", "--set", "save_weights=false",
             "--dev-split", "none", "--track", "--mlflow-uri",
             f"sqlite:///{tmp_path / 'mlflow.db'}"]
    env = {**os.environ, "CI": "true", "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    erbench = str(Path(sys.executable).with_name("erbench"))
    done = subprocess.run([erbench, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800)
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stderr and "%|" not in done.stderr
    assert not re.search(r"\bINFO\b", done.stderr), done.stderr
    assert "warning: train:" in done.stderr  # the truncation warnings still show
    assert "logged to MLflow" in done.stderr


# -- 9. predict ------------------------------------------------------------------------------------------------
def test_predict_keeps_alignment_reads_json_lines_and_gives_confidences(trained, tmp_path) -> None:
    text = tmp_path / "input.txt"
    text.write_text("John Smith works for Acme .\n\nMary lives in Rome\n")
    result = CliRunner().invoke(main, ["--quiet", "predict", str(trained), str(text), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines()]  # JSON lines: one document a line
    assert [r["tokens"] for r in rows] == [["John", "Smith", "works", "for", "Acme", "."], [],
                                          ["Mary", "lives", "in", "Rome"]]
    assert rows[1] == {"tokens": [], "entities": [], "relations": []}
    for r in rows:
        for item in [*r["entities"], *r["relations"]]:
            assert 0.0 <= item["confidence"] <= 1.0
    lines = tmp_path / "input.jsonl"
    lines.write_text('{"tokens": ["John", "Smith", "works", "for", "Acme", "."]}\n\n{"text": "Mary lives in Rome"}\n')
    result = CliRunner().invoke(main, ["--quiet", "predict", str(trained), str(lines), "--device", "cpu",
                                       "--format", "spert"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == rows  # SpERT JSON: one list; JSON lines read as JSON lines


def test_confidences_are_the_probabilities_the_heads_threshold(trained) -> None:
    from dataclasses import replace

    import erbench

    run = erbench.load_run(trained, device="cpu")
    (pred,) = run.predict(["John Smith works for Acme ."])
    run.model.options = replace(run.model.options, rel_filter_threshold=0.0)
    (every,) = run.predict(["John Smith works for Acme ."])
    assert len(every["relations"]) >= len(pred["relations"])
    for e in pred["entities"]:
        assert e["confidence"] > 1.0 / (1 + len(run.types.entities))  # an argmax of the softmax
    assert all(0.0 <= r["confidence"] <= 1.0 for r in every["relations"])
    # threshold 0: every ordered pair for Work_For; for the symmetric Near, a pair once in text order
    # (both orders when the two entities start at the same word)
    starts = [e["start"] for e in every["entities"]]
    n = len(starts)
    near = sum(1 for h in range(n) for t in range(n) if h != t and starts[h] <= starts[t])
    assert len(every["relations"]) == n * (n - 1) + near


# -- 10. the Python API, as the README shows it --------------------------------------------------------------
def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(trained, tmp_path, monkeypatch, capsys) -> None:
    shutil.copytree(trained, tmp_path / "runs" / "mydata-demo")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), scope)  # noqa: S102 - the documented example
    docs, df, table = scope["docs"], scope["df"], scope["table"]
    assert [d["tokens"][:2] for d in docs] == [["John", "Smith"], ["Mary", "lives"]]
    assert list(df[["dataset", "method", "seed"]].itertuples(index=False, name=None)) == [("tiny", "spert", 1)]
    metrics = json.loads((trained / "metrics.json").read_text())
    assert df.loc[0, "test/rel_strict/micro_f1"] == metrics["metrics"]["test/rel_strict/micro_f1"]
    assert df.loc[0, "protocol/encoder"] == "tiny-random"
    row = table.loc[("tiny", "rel_strict", "spert")]
    assert row["n"] == 1 and row["mean"] == pytest.approx(metrics["metrics"]["test/rel_strict/micro_f1"])


def test_compare_is_the_reports_table(trained, tmp_path) -> None:
    import erbench
    from erbench.report import build_report

    for seed in (1, 2):  # two "methods" and two seeds from one trained folder, relabelled
        for method, shift in (("spert", 0.0), ("mine", 1.5)):
            folder = tmp_path / "runs" / f"{method}-tiny-s{seed}"
            shutil.copytree(trained, folder)
            m = json.loads((folder / "metrics.json").read_text())
            m["run"].update(method=method, seed=seed, name=folder.name)
            m["metrics"] = {k: v + shift + seed for k, v in m["metrics"].items()}
            (folder / "metrics.json").write_text(json.dumps(m))
    table = erbench.compare(erbench.results(tmp_path / "runs"), baselines=["spert"], aso_bootstrap=0, ar_trials=0)
    stats = build_report([tmp_path / "runs"], tmp_path / "r", baselines=["spert"], aso_bootstrap=0, ar_trials=0)
    for s in stats["summaries"]:
        assert table.loc[(s["dataset"], s["setting"], s["method"]), "mean"] == pytest.approx(s["mean"])
    (c,) = [c for c in stats["comparisons"]["spert"]["results"] if c["setting"] == "rel_strict"]
    assert table.loc[("tiny", "rel_strict", "mine"), "vs_spert/mean_diff"] == pytest.approx(c["mean_diff"]) == 1.5


def test_import_erbench_stays_light() -> None:
    code = "import sys, erbench; print(sorted(m for m in ('torch', 'pandas', 'transformers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_under_dvc_a_run_folder_dvc_emptied_is_replaced_but_nothing_else(tmp_path, monkeypatch) -> None:
    from erbench.files import OutputExists, check_output_folder

    left = tmp_path / "spert-x-s1"  # what `dvc repro` leaves of an older run folder: undeclared outputs
    left.mkdir()
    (left / "model.safetensors").write_bytes(b"w")
    (left / "steps.jsonl").write_text("")
    with pytest.raises(OutputExists, match="--force"):
        check_output_folder(left, force=False, kind="run")
    monkeypatch.setenv("DVC_STAGE", "train@0")
    check_output_folder(left, force=False, kind="run")  # dvc owns the stage's outputs
    (left / "notes.txt").write_text("mine")
    with pytest.raises(OutputExists, match="not a run folder"):
        check_output_folder(left, force=False, kind="run")
