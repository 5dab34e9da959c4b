"""params `choices`: named variants expand into runs of their own; the report's interpretation-sensitivity
section and the thresholds row of the protocol card."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from erbench import choices
from erbench.analysis.protocol import ProtocolMismatch
from erbench.config import ConfigError
from erbench.params import parse_params
from erbench.report import build_report

from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, FAST, write_run

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"mt_detach": {"method": "spert_mt", "set": {"detach_entity_logits": True}},
            "mt_thr": {"method": "spert_mt", "set": {"thresholds": "dev", "entity_threshold": 0.6}}}


def test_variants_are_validated_and_name_their_runs():
    params = parse_params({"choices": {"datasets": ["synthetic"], "seeds": [1, 2], "variants": VARIANTS}})
    assert choices.run_names(params) == ["choices/mt_detach-synthetic-s1", "choices/mt_detach-synthetic-s2",
                                         "choices/mt_thr-synthetic-s1", "choices/mt_thr-synthetic-s2"]
    assert choices.variant(params, "mt_thr", None)["set"] == {"thresholds": "dev", "entity_threshold": 0.6}
    with pytest.raises(ConfigError, match="no variant 'nope' in params choices.variants"):
        choices.variant(params, "nope", None)
    with pytest.raises(ConfigError, match="method is spert_mt, not --method spert"):
        choices.variant(params, "mt_thr", "spert")
    with pytest.raises(ConfigError, match="choices.variants.Bad-Name: a variant name must be lower_snake_case"):
        choices.variants(parse_params({"choices": {"variants": {"Bad-Name": {"method": "spert"}}}}))
    with pytest.raises(ConfigError, match="choices.variants.x: unknown key 'sets'"):
        choices.variants(parse_params({"choices": {"variants": {"x": {"method": "spert", "sets": {}}}}}))
    with pytest.raises(ConfigError, match="choices.variant: unknown key"):  # the section's keys: erbench.params
        parse_params({"choices": {"variant": {}}})


def test_build_run_config_applies_a_choice_under_the_set_flags():
    from erbench.cli.train import build_run_config

    params = parse_params({"choices": {"variants": VARIANTS}})
    cfg = build_run_config("synthetic", None, 1, None, None, None, None, None, None, ("entity_threshold=0.7",),
                           params, choice="mt_thr")
    assert (cfg.method, cfg.choice, cfg.run_method, cfg.run_name) == ("spert_mt", "mt_thr", "mt_thr",
                                                                      "mt_thr-synthetic-s1")
    assert cfg.train.thresholds == "dev" and cfg.model.entity_threshold == 0.7  # --set wins
    assert cfg.model.heads == "multitask"  # the registry's spert_mt under the variant
    bad = parse_params({"choices": {"variants": {"v": {"method": "spert", "set": {"no_such_option": 1}}}}})
    with pytest.raises(ConfigError, match="params choices.variants.v.set: unknown key 'no_such_option'"):
        build_run_config("synthetic", None, 1, None, None, None, None, None, None, (), bad, choice="v")


def test_dvc_expands_choices_into_named_stages(tmp_path, monkeypatch):
    from dvc.repo import Repo
    from erbench.grid.pipeline import grid_stages

    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["choices"].update({"datasets": ["synthetic"], "seeds": [1, 2], "variants": VARIANTS})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    with Repo(str(tmp_path)) as repo:
        stages = grid_stages(repo, only="choices@*")
    assert sorted(s.out_dir for s in stages) == sorted(f"runs/{n}" for n in choices.run_names(parse_params(params)))
    one = next(s for s in stages if s.out_dir == "runs/choices/mt_thr-synthetic-s2")
    assert "--choice mt_thr" in one.cmd and "--seed 2" in one.cmd
    assert ("params.yaml", ("train", "protocol.synthetic", "methods", "choices.variants.mt_thr")) in one.params


def _choice_run(root: Path, name: str, base: str, seed: int, scores, *, thresholds: str = "dev",
                choice: bool = True) -> Path:
    run = write_run(root, "conll04", name, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=True)
    raw = json.loads((run / "metrics.json").read_text())
    raw["protocol"]["thresholds"] = thresholds
    if choice:
        raw["protocol"].update({"choice": name, "base_method": base, "choice_set": {"thresholds": thresholds}})
    counts = np.zeros(20, dtype=int)
    counts[-1], counts[0] = 3, 40
    raw["diagnostics"] = {"entity_scores": {
        "score": "sigmoid(z_id)", "bins": [round(0.05 * i, 2) for i in range(21)], "quantiles": [0.5],
        "groups": {"gold": {"n": 3, "counts": [0] * 19 + [3]}, "near_miss": {"n": 40, "counts": counts.tolist()},
                   "far": {"n": 40, "counts": counts.tolist()}}}}
    (run / "metrics.json").write_text(json.dumps(raw))
    return run


VARIANT = {1: (93.0, 75.0, 74.0), 2: (94.0, 77.0, 77.0), 3: (95.0, 76.0, 76.5)}


def test_report_section_shows_each_variant_with_n_and_the_test(tmp_path):
    runs = tmp_path / "runs"
    for method in ("spert", "spert_mt"):
        for seed, scores in CONLL[method].items():
            write_run(runs, "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=method == "spert_mt")
    for seed, scores in VARIANT.items():
        _choice_run(runs, "spert_mt_thr_dev", "spert_mt", seed, scores)
    stats = build_report([runs], tmp_path / "out", **FAST)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "## Interpretation sensitivity" in md
    section = md.split("## Interpretation sensitivity", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith("| CoNLL04 | spert_mt_thr_dev"))
    diff_mt = np.mean([VARIANT[s][2] - CONLL["spert_mt"][s][2] for s in (1, 2, 3)])
    diff_spert = np.mean([VARIANT[s][2] - CONLL["spert"][s][2] for s in (1, 2, 3)])
    assert f"{diff_mt:+.2f} (n=3, paired t-test over seeds (Holm), p=" in row
    assert f"{diff_spert:+.2f} (n=3, paired t-test over seeds (Holm), p=" in row
    assert "| SpERT.MT | thresholds=dev | test |" in row
    entry = stats["interpretation_sensitivity"][0]
    assert entry["variant"] == "spert_mt_thr_dev" and entry["vs_specified"]["n"] == 3
    assert entry["vs_specified"]["diff"] == pytest.approx(diff_mt)
    card = next(line for line in md.splitlines() if "decision thresholds" in line)
    assert "SPEC; tuned on dev (choices: spert_mt_thr_dev)" in card
    sig = next(line for line in md.splitlines() if line.startswith("conll04|"))
    assert "|thr:spec+choice:dev|" in sig
    assert (tmp_path / "out" / "entity_scores.png").is_file() and (tmp_path / "out" / "entity_scores.pdf").is_file()
    tex = (tmp_path / "out" / "sensitivity.tex").read_text()  # the same rows for the paper, and in the HTML
    row = next(line for line in tex.splitlines() if line.startswith("CoNLL04 & spert\\_mt\\_thr\\_dev"))
    assert f"${diff_mt:+.2f}$ ($p$=" in row and f"${diff_spert:+.2f}$ ($p$=" in row
    assert "\\texttt{thresholds=dev}" in row and "\\toprule" in tex
    assert "\\label{tab:erbench-sensitivity}" in (tmp_path / "out" / "results_standalone.tex").read_text()
    page = (tmp_path / "out" / "index.html").read_text()
    assert '<h2 id="sensitivity">Interpretation sensitivity</h2>' in page and "spert_mt_thr_dev" in page
    # without choices: no section; the file (a declared DVC output) is a LaTeX comment saying why
    plain = tmp_path / "plain"
    for method in ("spert", "spert_mt"):
        for seed, scores in CONLL[method].items():
            write_run(plain, "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=method == "spert_mt")
    build_report([plain], tmp_path / "out2", **FAST)
    assert (tmp_path / "out2" / "sensitivity.tex").read_text().startswith("% no interpretation sensitivity")
    assert 'id="sensitivity"' not in (tmp_path / "out2" / "index.html").read_text()


def test_runs_that_differ_in_thresholds_are_refused_unless_declared_choices(tmp_path):
    runs = tmp_path / "runs"
    for seed, scores in CONLL["spert"].items():
        write_run(runs, "conll04", "spert", seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=False)
    _choice_run(runs, "spert_mt", "spert_mt", 1, VARIANT[1], choice=False)  # tuned on dev, not a choice
    with pytest.raises(ProtocolMismatch, match="runs differ in protocol key 'thresholds': dev .*spert_mt.*; spec"):
        build_report([runs], tmp_path / "out", **FAST)


def test_a_choice_of_a_method_that_is_no_baseline_is_compared_uncorrected(tmp_path):
    """The variant's method (spert_focal) is no baseline, so no table compares the two: the section runs
    the same comparison on the paired seeds as a family of one."""
    runs = tmp_path / "runs"
    for method in ("spert", "spert_focal"):
        for seed, scores in CONLL[method].items():
            write_run(runs, "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=False)
    for seed, scores in VARIANT.items():
        _choice_run(runs, "focal_thr_dev", "spert_focal", seed, scores)
    stats = build_report([runs], tmp_path / "out", **FAST)
    entry = stats["interpretation_sensitivity"][0]
    diffs = [VARIANT[s][2] - CONLL["spert_focal"][s][2] for s in (1, 2, 3)]
    assert entry["vs_specified"]["n"] == 3 and entry["vs_specified"]["diff"] == pytest.approx(np.mean(diffs))
    assert entry["vs_specified"]["test"] == "paired t-test over seeds (uncorrected)"
    assert entry["vs_specified"]["units"] == ["seed 1", "seed 2", "seed 3"]
    assert entry["vs_spert"]["test"] == "paired t-test over seeds (Holm)"
    md = (tmp_path / "out" / "results.md").read_text()
    assert "(n=3, paired t-test over seeds (uncorrected), p=" in md
