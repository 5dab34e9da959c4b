"""End to end: the real `dvc repro` on the micro suite in a temporary git repository.

Copies the project's tracked files into a fresh repo, switches to the micro suite (tiny random
encoder, tiny synthetic corpus, 2 methods x 2 seeds), runs `dvc repro` the way a user does, and
checks the reports, the MLflow store, DVC's metrics, and that a second `dvc repro` runs nothing but the
plugins' digest.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project_copy import copy_project
from tests.project_copy import run as _run

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = tmp_path_factory.mktemp("pipeline") / "erbench"
    env = copy_project(dest)
    first = _run(["dvc", "repro"], dest, env)
    return dest, {"env": env, "first": first.stdout + first.stderr}


def test_repro_writes_reports(repo):
    dest, _ = repo
    reports = dest / "reports"
    for name in ("results.tex", "results_standalone.tex", "results.md", "stats.json", "per_seed.png",
                 "per_seed.pdf", "plots/per_seed.csv", "index.html", "errors.png", "errors.pdf", "seeds_needed.png",
                 "seeds_needed.pdf", "seen_unseen.tex"):
        assert (reports / name).is_file() and (reports / name).stat().st_size > 0, name
    stats = json.loads((reports / "stats.json").read_text())
    assert stats["seen_unseen"]["settings"] == {"synthetic": ["ner", "rel_strict"]}  # from the staged data/
    assert stats["protocol_cards"]["synthetic"]["git_commit"] not in ("", "unknown")
    assert {e["method"] for e in stats["errors"]} == {"spert", "spert_mt"}
    text = (reports / "results.md").read_text()
    assert "| SpERT.MT |" in text and "| SpERT |" in text  # display names
    assert "\\toprule" in (reports / "results.tex").read_text()
    assert len(stats["runs"]) == 4


def test_run_folders_and_metrics(repo):
    dest, _ = repo
    for method in ("spert", "spert_mt"):
        for seed in (1, 2):
            run = dest / "runs" / f"{method}-synthetic-s{seed}"
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["run"] == {"name": run.name, "dataset": "synthetic", "method": method, "seed": seed,
                                      "fold": None}
            assert "test/rel_strict/micro_f1" in metrics["metrics"]
            assert (run / "predictions.jsonl").is_file() and (run / "config.json").is_file()


def test_mlflow_has_one_finished_run_per_stage(repo):
    dest, _ = repo
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{dest / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("micro")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 4
    assert {r.info.status for r in runs} == {"FINISHED"}
    names = sorted(r.data.tags["mlflow.runName"] for r in runs)
    assert names == sorted(f"{m}-synthetic-s{s}" for m in ("spert", "spert_mt") for s in (1, 2))
    one = runs[0]
    for tag in ("dataset", "method", "seed", "fold", "git_commit", "dataset_sha256", "encoder", "device", "torch",
                "transformers", "env.python", "env.cpu", "env.threads", "env.device_type"):
        assert tag in one.data.tags, tag
    assert "data/train_encoding/truncated_documents" in one.data.metrics
    artifacts = {a.path for a in client.list_artifacts(one.info.run_id)}
    assert {"environment.json", "summary.json", "metrics.json"} <= artifacts
    assert one.data.params["model.max_span_size"] == "10"
    assert "test/rel_strict/micro_f1" in one.data.metrics
    history = client.get_metric_history(one.info.run_id, "train/loss")
    assert [m.step for m in history] == [1]


SUMMARY_KEYS = {f"{s}_{a}_f1" for s in ("ner", "re", "re_strict") for a in ("micro", "macro")} | {"train_min", "eval_s"}


def test_dvc_metrics_show(repo):
    """DVC's one metric is reports/summary.json: NER and RE+ means per method and n, equal to the table's."""
    dest, info = repo
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], dest, info["env"]).stdout)
    files = {name: data["data"] for rev in shown.values() for name, data in rev["data"].items()}
    assert sorted(files) == ["reports/summary.json"], sorted(files)
    summary = files["reports/summary.json"]
    assert set(summary) == {"synthetic"} and set(summary["synthetic"]) == {"n", "spert", "spert_mt"}
    assert summary["synthetic"]["n"] == 2
    stats = json.loads((dest / "reports" / "stats.json").read_text())
    for method in ("spert", "spert_mt"):
        assert set(summary["synthetic"][method]) == {"ner", "rel_strict"}
        values = [json.loads((dest / "runs" / f"{method}-synthetic-s{s}" / "summary.json").read_text())
                  for s in (1, 2)]
        for run in values:  # each run's own headline numbers stay in its folder
            assert set(run) == SUMMARY_KEYS
        mean = sum(v["re_strict_micro_f1"] for v in values) / 2
        assert summary["synthetic"][method]["rel_strict"] == pytest.approx(mean, abs=0.006)
    assert stats["runs"]  # the full statistics stay in stats.json
    table = _run(["dvc", "metrics", "show", "--md"], dest, info["env"]).stdout
    assert len(table.splitlines()[0].split("|")) - 2 == 1 + 1 + 2 * 2  # Path, n, 2 methods x (NER, RE+)


def test_dvc_exp_show_has_only_the_summary(repo):
    """`dvc exp show` has one column per method and headline (plus n), not one per run and key."""
    dest, info = repo
    header = _run(["dvc", "exp", "show", "--csv"], dest, info["env"]).stdout.splitlines()[0].split(",")
    # one metrics file: DVC leaves its path off the column names (with several it writes path:key)
    # runs/plugins.json is a dependency column (the plugins digest's hash), not a metric
    metrics = [h for h in header if (h.startswith(("synthetic.", "reports/", "runs/")) or ".json:" in h)
               and h != "runs/plugins.json"]
    assert sorted(h.split(":")[-1] for h in metrics) == sorted(
        ["synthetic.n", "synthetic.spert.ner", "synthetic.spert.rel_strict", "synthetic.spert_mt.ner",
         "synthetic.spert_mt.rel_strict"]), header


def test_dvc_plots_show_offline(repo, tmp_path):
    """Only image plots are declared, every figure of the report: the page DVC writes needs no network."""
    dest, info = repo
    _run(["dvc", "plots", "show", "--out", str(tmp_path / "plots")], dest, info["env"])
    page = (tmp_path / "plots" / "index.html").read_text()
    figures = sorted(p.name for p in (dest / "reports").glob("*.png"))
    assert len(figures) == 6 and all(name in page for name in figures), figures
    assert "vega" not in page.lower() and "http" not in page.replace("http-equiv", "")


def test_every_report_file_is_a_declared_output(repo):
    import yaml

    dest, _ = repo
    stage = yaml.safe_load((dest / "dvc.yaml").read_text())["stages"]["report"]
    declared = {next(iter(o)) if isinstance(o, dict) else o for part in ("outs", "metrics", "plots")
                for o in stage[part]}
    written = {p.relative_to(dest).as_posix() for p in (dest / "reports").rglob("*") if p.is_file()
               and not p.name.startswith(".")}
    assert written == declared, (written ^ declared)


def test_the_readmes_narrow_exp_show_keeps_the_experiments_names(repo):
    dest, info = repo
    readme = (ROOT / "README.md").read_text()
    (command,) = re.findall(r"`(dvc exp show --drop [^`]+)`", readme)
    import shlex

    header = _run([*shlex.split(command), "--csv"], dest, info["env"]).stdout.splitlines()[0].split(",")
    assert header[0] == "Experiment", header
    assert {h for h in header if h.startswith("synthetic.")} == {
        "synthetic.n", "synthetic.spert.ner", "synthetic.spert.rel_strict", "synthetic.spert_mt.ner",
        "synthetic.spert_mt.rel_strict"}, header


def test_run_environment_recorded(repo):
    dest, _ = repo
    from importlib import metadata

    run = dest / "runs" / "spert-synthetic-s1"
    env = json.loads((run / "environment.json").read_text())
    assert env["python"] == sys.version.split()[0] and env["device_type"] == "cpu" and env["threads"] >= 1
    assert env["packages"]["torch"] == metadata.version("torch") and env["packages"]["mlflow"]
    assert env["cpu"] and env["torch"] == metadata.version("torch")
    short = json.loads((run / "metrics.json").read_text())["environment"]
    assert short["torch"] == env["torch"] and "packages" not in short


def test_after_repro_dvc_status_is_clean_and_a_second_repro_runs_nothing(repo):
    """The plugins digest stage tracks params plugins_dir (plugins/), not an always-changed stage: once
    `dvc repro` has run, `dvc status` says nothing is stale and a second repro runs no stage."""
    dest, info = repo
    first = re.findall(r"Running stage '([^']+)'", info["first"])
    assert first[:1] == ["plugins"] or "plugins" in first
    assert json.loads((dest / "runs" / "plugins.json").read_text()) == {"methods_include": [], "entry_points": []}
    assert json.loads(_run(["dvc", "status", "--json"], dest, info["env"]).stdout) == {}
    assert "Data and pipelines are up to date" in _run(["dvc", "status"], dest, info["env"]).stdout
    second = _run(["dvc", "repro"], dest, info["env"])
    assert re.findall(r"Running stage '([^']+)'", second.stdout + second.stderr) == []


def test_changing_one_method_reruns_only_its_stages(repo):
    dest, info = repo
    import yaml

    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["methods"]["spert_mt"] = {"iou_delta": 2.0}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _run(["dvc", "status", "--json"], dest, info["env"]).stdout
    stale = set(json.loads(status))
    assert {s for s in stale if s.startswith("train")} == {"train@synthetic-spert_mt-1", "train@synthetic-spert_mt-2"}


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_standalone_latex_compiles(repo, tmp_path):
    dest, _ = repo
    shutil.copy(dest / "reports" / "results_standalone.tex", tmp_path / "results.tex")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "results.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "results.pdf").stat().st_size > 0
