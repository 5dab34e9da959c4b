"""The CPU study's suites (suites/scierc-cpu.yaml, ade-cpu.yaml, study-cpu.yaml): what they declare, and a
micro-sized copy of each run end to end.

The micro copies keep each suite's structure (datasets, methods, declared choice, k-fold choices, the
study's records) and shrink the rest: the tiny random BERT, one epoch, two seeds (one for ADE), three ADE
folds, and tiny stand-ins for the datasets (the synthetic corpus under the real datasets' file names,
staged by hand: the real files are never in the repository). Each run is trained with the command
dvc.yaml's stage gives it, saved with `erbench results save`, reported from the records, and the study
report reads the three suites' records and writes the README section.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.config import run_name
from erbench.params import parse_params, read_params

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"
READING = {"method": "spert_mt", "set": {"mt_cls_scope": "all", "mt_decision": "cls", "rel_gate": "args"}}
METHODS = ["spert", "spert_mt", "spert_focal", "spert_cb"]


def test_scierc_cpu_declares_the_sciERC_study():
    params = read_params(SUITES / "scierc-cpu.yaml")
    assert (params.grid.datasets, params.grid.kfold_datasets) == (("scierc",), ())
    assert list(params.grid.methods) == METHODS and params.grid.seeds == (1, 2, 3)
    assert params.choices.datasets == ("scierc",) and params.choices.seeds == (1, 2, 3)
    assert params.choices.variants == {"spert_mt_all_cls_args": READING}
    assert params.protocol["scierc"].train_split == "train_dev" and params.protocol["scierc"].eval_split == "test"
    assert (params.train.encoder, params.train.epochs, params.train.save_weights) == ("minilm", 20, True)
    assert len(params.run_folders()) == 15 and params.data.stage == ("scierc",)
    header = (SUITES / "scierc-cpu.yaml").read_text().split("\nsuite:")[0]
    assert "81 min a run" in header and "erbench results save" in header and "conll04-dev-study" in \
        (SUITES / "scierc-cpu.yaml").read_text()


def test_ade_cpu_declares_ten_folds_at_one_seed():
    params = read_params(SUITES / "ade-cpu.yaml")
    assert (params.grid.datasets, params.grid.kfold_datasets) == ((), ("ade",))
    assert params.grid.folds == tuple(range(10)) and params.grid.seeds == (1,) and params.grid.methods == ("spert",)
    assert params.choices.kfold_datasets == ("ade",) and params.choices.datasets == ()
    assert params.choices.variants == {"spert_mt_all_cls_args": READING}
    assert params.protocol["ade"].no_overlapping is True and params.report.fold_test == "corrected"
    folders = params.run_folders()
    assert len(folders) == 20
    assert "choices/spert_mt_all_cls_args-ade-s1-f9" in folders and "spert-ade-s1-f0" in folders
    assert "spert_focal" in (SUITES / "ade-cpu.yaml").read_text()  # listed for when the budget allows


def test_study_cpu_trains_nothing_and_reads_the_three_suites_records():
    params = read_params(SUITES / "study-cpu.yaml")
    assert params.run_folders() == []
    assert params.report.records == ("results/conll04-cpu", "results/scierc-cpu", "results/ade-cpu")
    assert params.report.display_names["spert_mt_all_cls_args"]
    conll = read_params(SUITES / "conll04-cpu.yaml")
    assert conll.choices.variants["spert_mt_all_cls_args"] == READING  # the same declared reading everywhere


def test_dvc_yaml_runs_choices_on_folds_as_run_name_names_them():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    stage = stages["choices_kfold"]
    assert stage["matrix"]["dataset"] == "${choices.kfold_datasets}" and stage["matrix"]["fold"] == "${grid.folds}"
    cmd = stage["cmd"].replace("${item.choice}", "c").replace("${item.dataset}", "ade").replace(
        "${item.seed}", "1").replace("${item.fold}", "4")
    assert f"--out runs/choices/{run_name('c', 'ade', 1, 4)}" in cmd and "--fold 4" in cmd
    assert "results" in stages["report"]["deps"]
    params = parse_params({"grid": {"folds": [0, 1]}, "choices": {"kfold_datasets": ["ade"], "seeds": [1], "variants": {
        "c": {"method": "spert_mt", "set": {}}}}})
    assert params.run_folders() == ["choices/c-ade-s1-f0", "choices/c-ade-s1-f1"]


# ---------------------------------------------------------------- micro-sized copies, end to end

FILES = {"conll04": {"train_dev": "conll04_train_dev.json", "test": "conll04_test.json",
                     "train": "conll04_train.json", "dev": "conll04_dev.json"},
         "scierc": {"train_dev": "scierc_train_dev.json", "test": "scierc_test.json", "train": "scierc_train.json",
                    "dev": "scierc_dev.json"},
         "ade": {"full": "ade_full.json", **{f"split_{k}_{s}": f"ade_split_{k}_{s}.json" for k in range(10)
                                             for s in ("train", "test")}}}


def _stand_ins(data_root: Path) -> None:
    """The synthetic corpus (nested entities included) staged under each real dataset's file names."""
    from erbench.datasets.synthetic import SyntheticConfig, write_synthetic

    gen = data_root / "gen"
    write_synthetic(gen, SyntheticConfig(train_size=10, dev_size=4, test_size=8, seed=3))
    for name, files in FILES.items():
        folder = data_root / "raw" / name
        folder.mkdir(parents=True)
        for split, file in files.items():
            source = "test" if split.endswith("test") or split == "dev" else "train"
            shutil.copyfile(gen / f"synthetic_{source}.json", folder / file)
        shutil.copyfile(gen / "synthetic_types.json", folder / f"{name}_types.json")
        names = [*files.values(), f"{name}_types.json"]
        sha = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}
        docs = {s: len(json.loads((folder / f).read_text())) for s, f in files.items()}
        (folder / "STAGED.json").write_text(json.dumps({"dataset": name, "origin": "test stand-in", "sha256": sha,
                                                        "documents": docs}))


def _micro(suite: str, dest: Path, records: dict[str, Path] | None = None) -> Path:
    raw = yaml.safe_load((SUITES / f"{suite}.yaml").read_text())
    raw["train"].update(encoder="tiny-random", epochs=1, lr=5.0e-3, save_weights=False, threads=1, device="cpu")
    raw["tracking"]["enabled"] = False
    raw["grid"]["seeds"] = raw["grid"]["seeds"][:2]
    raw["choices"]["seeds"] = raw["choices"]["seeds"][:2]
    raw["grid"]["folds"] = [0, 1, 2]
    raw["report"].update(ar_trials=100, aso_bootstrap=0)
    if records is not None:
        raw["report"]["records"] = [str(records[name]) for name in ("conll04-cpu", "scierc-cpu", "ade-cpu")]
    path = dest / f"{suite}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _train_commands(params_path: Path, runs: Path, data_root: Path) -> dict[str, list[str]]:
    """run folder -> the `erbench train` arguments dvc.yaml's train, train_kfold, choices and choices_kfold
    stages give it (tests/test_params.py ties their --out to run_name)."""
    p = read_params(params_path)
    common = ["--quiet", "train", "--params", str(params_path), "--data-root", str(data_root)]
    out = {}
    for d in p.grid.datasets:
        for m in p.grid.methods:
            for s in p.grid.seeds:
                out[run_name(m, d, s)] = ["--dataset", d, "--method", m, "--seed", str(s)]
    for d in p.grid.kfold_datasets:
        for f in p.grid.folds:
            for m in p.grid.methods:
                for s in p.grid.seeds:
                    out[run_name(m, d, s, f)] = ["--dataset", d, "--fold", str(f), "--method", m, "--seed", str(s)]
    for c in p.choices.variants:
        for s in p.choices.seeds:
            for d in p.choices.datasets:
                out[f"choices/{run_name(c, d, s)}"] = ["--dataset", d, "--choice", c, "--seed", str(s)]
            for d in p.choices.kfold_datasets:
                for f in p.grid.folds:
                    out[f"choices/{run_name(c, d, s, f)}"] = ["--dataset", d, "--fold", str(f), "--choice", c,
                                                              "--seed", str(s)]
    assert sorted(out) == sorted(p.run_folders())
    return {name: [*common, *args, "--out", str(runs / name)] for name, args in out.items()}


def _invoke(args: list[str]):
    from erbench.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, f"{' '.join(args)}:\n{result.output}"
    return result


@pytest.mark.slow
def test_micro_copies_of_the_suites_run_end_to_end(tmp_path):
    data_root = tmp_path / "data"
    _stand_ins(data_root)
    results = tmp_path / "results"
    records = {}
    for suite in ("conll04-cpu", "scierc-cpu", "ade-cpu"):
        params = _micro(suite, tmp_path)
        runs = tmp_path / "runs" / suite
        for args in _train_commands(params, runs, data_root).values():
            _invoke(args)
        saved = _invoke(["results", "save", str(runs), "--params", str(params), "--to", str(results)])
        assert "not finished" not in saved.output
        records[suite] = results / suite
        out = tmp_path / "reports" / suite
        _invoke(["--quiet", "report", str(records[suite]), "--params", str(params), "--out", str(out),
                 "--data-root", str(data_root)])
        stats = json.loads((out / "stats.json").read_text())
        assert len(stats["runs"]) >= len(read_params(params).run_folders())
    ade = json.loads((tmp_path / "reports" / "ade-cpu" / "stats.json").read_text())
    assert set(ade["datasets"]) == {"ade", "ade_overlapping"}  # both published settings, one set of runs
    assert ade["datasets"]["ade"]["folds"] == [0, 1, 2]
    assert {s["method"] for s in ade["summaries"]} == {"spert", "spert_mt_all_cls_args"}
    seen = ade["seen_unseen"]["settings"]  # the re-scored table partitions by the same staged training folds
    assert set(seen) == {"ade", "ade_overlapping"} and not any("no seen/unseen" in w for w in ade["warnings"])
    study = _micro("study-cpu", tmp_path, records)
    out = tmp_path / "reports" / "study-cpu"
    _invoke(["--quiet", "report", str(tmp_path / "runs" / "none"), "--params", str(study), "--out", str(out),
             "--data-root", str(data_root)])
    stats = json.loads((out / "stats.json").read_text())
    assert {"conll04", "scierc", "ade", "ade_overlapping"} == set(stats["datasets"])
    assert {r["path"].split("/results/")[1].split("/")[0] for r in stats["runs"]} == set(records)
    for suite in ("conll04-cpu", "scierc-cpu"):  # the same runs give the same numbers in the study report
        alone = json.loads((tmp_path / "reports" / suite / "stats.json").read_text())
        dataset = suite.split("-")[0]
        means = {(s["setting"], s["method"]): s["mean"] for s in alone["summaries"]}
        assert means == {(s["setting"], s["method"]): s["mean"] for s in stats["summaries"] if s["dataset"] == dataset}
    readme = tmp_path / "README.md"
    from erbench.readme import BEGIN, END

    readme.write_text(f"# x\n{BEGIN}\n{END}\n")
    _invoke(["results", "readme", "--report", str(out), "--readme", str(readme), "--params", str(study)])
    text = readme.read_text()
    assert "suite `study-cpu`" in text and "SciERC" in text and "ADE (overlapping entities kept)" in text
