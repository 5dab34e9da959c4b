"""Methods, losses and statistics from outside the repository: a file named in params `methods_include`
(and the `erbench.methods` entry-point group) registers them before any method name is resolved."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.cli import main
from erbench.models import registry
from erbench.models.losses import LOSSES
from erbench.models.options import ConfigError
from erbench.models.statistics import STATISTICS

PLUGIN = textwrap.dedent('''
    """A user's own method: SpERT heads with a loss that weighs each entity class by 1 / sqrt(count)."""
    import torch
    from erbench.models.losses import register_loss, spert_reduce, entity_ce, relation_bce
    from erbench.models.registry import register
    from erbench.models.statistics import register_statistic

    CALLS = {"loss": 0, "statistic": 0}


    @register_statistic("plugin_inverse_sqrt_counts")
    def inverse_sqrt_counts(encoded, types, options, known):
        CALLS["statistic"] += 1
        counts = [0.0] * (1 + len(types.entities))
        for enc in encoded:
            for e in enc.doc.entities:
                counts[1 + types.entities.index(e.type)] += 1
        counts[0] = float(options.neg_entity_count * len(encoded))
        return torch.tensor([c ** -0.5 if c else 0.0 for c in counts])


    @register_loss("plugin_sqrt", heads="spert", needs=("plugin_inverse_sqrt_counts",),
                   description="entity cross-entropy weighted by 1 / sqrt(class count)")
    def sqrt_weighted(ent, rel, batch, options, stats):
        CALLS["loss"] += 1
        weights = stats["plugin_inverse_sqrt_counts"][batch.ent_target]
        ent_terms = entity_ce(ent["logits"], batch.ent_target) * weights / weights.mean()
        return spert_reduce(ent_terms, relation_bce(rel["logits"], batch.rel_target).mean(dim=-1))


    register("plugin_spert_sqrt", "SpERT with a 1/sqrt(count) entity loss, defined outside the repository",
             display="SpERT + sqrt", loss="plugin_sqrt", neg_entity_count=10)
''')


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "my_methods.py"
    path.write_text(PLUGIN)
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, plugin_file: Path) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("plugin_run")
    params = base / "params.yaml"
    params.write_text(yaml.safe_dump({
        "methods_include": [str(plugin_file)],
        "data": {"synthetic": {"train_size": 8, "dev_size": 4, "test_size": 4, "seed": 3}},
    }))
    root = base / "data"
    result = CliRunner().invoke(main, ["--quiet", "data", "stage", "synthetic", "--params", str(params),
                                       "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    return root, params


def test_a_method_and_loss_from_a_file_outside_the_tree_train_through_the_cli(synthetic, plugin_file, tmp_path):
    root, params = synthetic
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "--quiet", "train", "--dataset", "synthetic", "--method", "plugin_spert_sqrt", "--seed", "1",
        "--encoder", "tiny-random", "--epochs", "1", "--dev-split", "none", "--set", "threads=1",
        "--set", "device=cpu", "--set", "log_every=1", "--set", "save_weights=false",
        "--data-root", str(root), "--out", str(out), "--params", str(params)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["method"] == "plugin_spert_sqrt"
    assert (config["run"]["model"]["loss"], config["run"]["model"]["neg_entity_count"]) == ("plugin_sqrt", 10)
    rows = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert len(rows) == 4  # 8 documents, batch size 2, one epoch, a record every step
    assert all(r["train/grad_norm/entity"] > 0 and r["train/grad_norm/relation"] >= 0 for r in rows)
    module = registry.load_files([plugin_file])[0]  # the same file is not imported twice
    import sys

    calls = sys.modules[module].CALLS
    assert calls["statistic"] == 1 and calls["loss"] == 4  # statistics once per run, the loss every step
    assert ("spert", "plugin_sqrt") in LOSSES and "plugin_inverse_sqrt_counts" in STATISTICS
    listed = CliRunner().invoke(main, ["methods", "--params", str(params)])
    assert listed.exit_code == 0 and "plugin_spert_sqrt" in listed.output


def test_a_missing_include_file_is_one_line_naming_it(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"methods_include": [str(tmp_path / "nope.py")]}))
    result = CliRunner().invoke(main, ["methods", "--params", str(params)])
    assert result.exit_code == 2
    assert "methods_include" in result.output and "nope.py" in result.output
    with pytest.raises(ConfigError, match="expected a list of paths"):
        registry.load_plugins({"methods_include": "my_methods.py"})


def test_entry_points_of_the_group_are_imported(monkeypatch, tmp_path):
    module = tmp_path / "erbench_ep_plugin.py"
    module.write_text("from erbench.models.registry import register\n"
                      "register('ep_spert', 'from an entry point', display='EP', neg_entity_count=7)\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class EntryPoint:
        name, value = "ep", "erbench_ep_plugin"

        def load(self):
            import importlib

            return importlib.import_module(self.value)

    seen = []
    monkeypatch.setattr(registry, "entry_points", lambda group: seen.append(group) or [EntryPoint()])
    monkeypatch.setattr(registry, "_loaded_entry_points", False)
    try:
        assert registry.method_options("ep_spert").neg_entity_count == 7
        assert seen == ["erbench.methods"]
        assert registry.load_entry_points() == []  # once per process
    finally:
        registry.METHODS.pop("ep_spert", None)


def test_a_plugin_run_folder_reloads_its_plugin_in_a_new_process(synthetic, plugin_file, tmp_path):
    """evaluate (a fresh process: nothing registered yet) imports the file config.json records; an edited
    file is loaded with a warning naming it."""
    import subprocess
    import sys

    root, params = synthetic
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "--quiet", "train", "--dataset", "synthetic", "--method", "plugin_spert_sqrt", "--seed", "1",
        "--encoder", "tiny-random", "--epochs", "1", "--dev-split", "none", "--set", "threads=1",
        "--set", "device=cpu", "--data-root", str(root), "--out", str(out), "--params", str(params)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["methods_include"] == [str(plugin_file.resolve())]
    assert [p["path"] for p in config["plugins"]] == [str(plugin_file.resolve())]
    erbench = Path(sys.executable).parent / "erbench"
    command = [str(erbench), "--quiet", "evaluate", str(out), "--split", "test", "--data-root", str(root),
               "--json"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["test/ner/micro_f1"] >= 0
    assert "changed since" not in proc.stderr
    edited = tmp_path / "edited.py"
    edited.write_text(plugin_file.read_text() + "\n# edited\n")
    config["run"]["methods_include"] = [str(edited)]
    config["plugins"][0]["path"] = str(edited)
    (out / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"plugin file {edited} changed since the run was trained" in proc.stderr
    edited.unlink()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "run.methods_include" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_a_method_from_outside_the_tree_runs_through_dvc_repro(tmp_path):
    """The micro suite with a method from a file outside the repository (params plugins_dir names its
    folder): `dvc repro` trains and reports it and leaves `dvc status` clean; editing the file shows in
    `dvc status` and re-runs the training stages (through runs/plugins.json) with the new code."""
    import shutil

    from tests.project_copy import copy_project, run

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = tmp_path / "project"
    env = copy_project(dest)
    outside = tmp_path / "outside" / "my_methods.py"
    outside.parent.mkdir()
    outside.write_text(PLUGIN)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["methods_include"] = [str(outside)]
    params["plugins_dir"] = str(outside.parent)
    params["grid"].update(methods=["spert", "plugin_spert_sqrt"], seeds=[1, 2])
    params["methods"]["plugin_spert_sqrt"] = {}
    params["report"]["baselines"] = ["spert"]
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "a method from outside"], dest, env)
    run(["dvc", "repro"], dest, env)
    folder = dest / "runs" / "plugin_spert_sqrt-synthetic-s1"
    config = json.loads((folder / "config.json").read_text())
    assert config["run"]["model"]["loss"] == "plugin_sqrt" and config["run"]["model"]["neg_entity_count"] == 10
    assert config["run"]["methods_include"] == [str(outside.resolve())]
    digest = json.loads((dest / "runs" / "plugins.json").read_text())
    assert [f["path"] for f in digest["methods_include"]] == [str(outside.resolve())]
    assert "| SpERT + sqrt |" in (dest / "reports" / "results.md").read_text()  # its display name
    status = run(["dvc", "status"], dest, env).stdout
    assert "Data and pipelines are up to date" in status, status
    outside.write_text(PLUGIN.replace("neg_entity_count=10", "neg_entity_count=11"))
    status = run(["dvc", "status"], dest, env).stdout
    assert status.startswith("plugins:") and str(outside.parent) in status, status
    proc = run(["dvc", "repro"], dest, env)
    ran = re.findall(r"Running stage '([^']+)'", proc.stdout + proc.stderr)
    assert ran[0] == "plugins" and {s for s in ran if s.startswith("train@")} == {
        f"train@synthetic-{m}-{s}" for m in ("spert", "plugin_spert_sqrt") for s in (1, 2)}, ran
    assert json.loads((folder / "config.json").read_text())["run"]["model"]["neg_entity_count"] == 11


def test_the_plugins_stage_refuses_an_include_file_outside_plugins_dir(plugin_file, tmp_path):
    """DVC tracks params plugins_dir only: an include file elsewhere would change unseen, so the stage's
    command stops with one line naming the params file, the include file and plugins_dir, writing nothing."""
    import subprocess
    import sys

    params = tmp_path / "my-params.yaml"
    tracked = tmp_path / "tracked"
    tracked.mkdir()
    params.write_text(yaml.safe_dump({"methods_include": [str(plugin_file)], "plugins_dir": str(tracked)}))
    digest = tmp_path / "plugins.json"
    erbench = Path(sys.executable).parent / "erbench"
    proc = subprocess.run([str(erbench), "--quiet", "methods", "--params", str(params), "--digest", str(digest)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and not digest.exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(params) in lines[0] and str(plugin_file) in lines[0], proc.stderr
    assert "outside plugins_dir" in lines[0]
    params.write_text(yaml.safe_dump({"methods_include": [str(plugin_file)], "plugins_dir": str(plugin_file.parent)}))
    result = CliRunner().invoke(main, ["--quiet", "methods", "--params", str(params), "--digest", str(digest)])
    assert result.exit_code == 0, result.output
    assert [f["path"] for f in json.loads(digest.read_text())["methods_include"]] == [str(plugin_file.resolve())]


def test_the_plugins_stage_names_a_grid_method_without_a_methods_entry(plugin_file, tmp_path):
    """A plugin method added to grid.methods without `methods.<name>` would let DVC train the stages before it
    and then stop; the plugins stage, which runs first, stops with one line naming the params file and the
    method, writing nothing. An ablation method is checked only when ablations run."""
    params = tmp_path / "my-params.yaml"
    raw = {"methods_include": [str(plugin_file)], "plugins_dir": str(plugin_file.parent),
           "grid": {"datasets": ["synthetic"], "methods": ["spert", "my_method"], "seeds": [1]},
           "ablations": {"datasets": [], "methods": ["spert_mt_no_iou"]},
           "methods": {"spert": {}}}
    params.write_text(yaml.safe_dump(raw))
    digest = tmp_path / "plugins.json"
    result = CliRunner().invoke(main, ["--quiet", "methods", "--params", str(params), "--digest", str(digest)])
    assert result.exit_code == 2 and not digest.exists()
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(params) in lines[0] and "no entry for my_method" in lines[0], result.output
    assert "my_method: {}" in lines[0]
    raw["methods"]["my_method"] = {}
    params.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["--quiet", "methods", "--params", str(params), "--digest", str(digest)])
    assert result.exit_code == 0 and digest.exists(), result.output
    raw["ablations"]["datasets"] = ["synthetic"]
    params.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["--quiet", "methods", "--params", str(params), "--digest", str(digest)])
    assert result.exit_code == 2 and "no entry for spert_mt_no_iou (listed in ablations.methods)" in result.output
