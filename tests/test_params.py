"""params.yaml -> one frozen, typed tree: every suite parses; unknown keys and wrong types name the key path;
one function names runs, and dvc.yaml spells the same names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from erbench.config import ConfigError, RunConfig, run_name
from erbench.params import Params, parse_params, read_params

ROOT = Path(__file__).resolve().parents[1]
SUITES = sorted((ROOT / "suites").glob("*.yaml"))


@pytest.mark.parametrize("path", [ROOT / "params.yaml", *SUITES], ids=lambda p: p.name)
def test_every_shipped_params_file_parses(path: Path) -> None:
    params = read_params(path)
    raw = yaml.safe_load(path.read_text())
    assert params.suite == raw["suite"] and list(params.grid.seeds) == raw["grid"]["seeds"]
    assert params.train.epochs == raw["train"].get("epochs", 20)
    assert params.report.alpha == raw["report"]["alpha"]


@pytest.mark.parametrize("section, message", [
    ({"report": {"latex": {"flot": "table"}}}, "params.yaml: report.latex.flot: unknown key (valid: float, label"),
    ({"grid": {"seedz": [1]}}, "params.yaml: grid.seedz: unknown key"),
    ({"sweep": {"neg_count": [1]}}, "params.yaml: sweep.neg_count: unknown key"),
    ({"ablations": {"dataset": []}}, "params.yaml: ablations.dataset: unknown key"),
    ({"tracking": {"enbled": True}}, "params.yaml: tracking.enbled: unknown key"),
    ({"protocol": {"conll04": {"train_splt": "train"}}}, "params.yaml: protocol.conll04.train_splt: unknown key"),
    ({"data": {"synthetic": {"train_sise": 3}}}, "params.yaml: data.synthetic.train_sise: unknown key"),
    ({"data": {"custom": {"mine": {"types": "t.json", "splits": {"train": "a"}, "folds": 3}}}},
     "unknown key 'folds'"),
    ({"methods": {"spert": {"neg_entity_cnt": 5}}}, "params.yaml: methods.spert.neg_entity_cnt: unknown key"),
    ({"train": {"epoch": 3}}, "params.yaml: train.epoch: unknown key"),
    ({"sute": "x"}, "params.yaml: sute: unknown key"),
])
def test_unknown_keys_name_their_path(section, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_params(section)


@pytest.mark.parametrize("section, message", [
    ({"grid": {"seeds": [1, "two"]}}, "params.yaml: grid.seeds[1]: expected int, got str 'two'"),
    ({"grid": {"methods": "spert"}}, "params.yaml: grid.methods: expected a list of str"),
    ({"tracking": {"enabled": "yes"}}, "params.yaml: tracking.enabled: expected bool"),
    ({"train": {"lr": "fast"}}, "params.yaml: train.lr: expected float"),
    ({"train": {"lr": -1.0}}, "params.yaml: train: lr: must be > 0"),
    ({"methods": {"spert_mt": {"neg_entity_count": 1.5}}},
     "params.yaml: methods.spert_mt.neg_entity_count: expected int"),
    ({"report": {"alpha": 2}}, "params.yaml: report: alpha: must lie in (0, 1)"),
    ({"report": {"latex": {"float": "wide"}}}, "params.yaml: report.latex: float: expected one of auto"),
    ({"report": {"display_names": {"spert": 3}}}, "params.yaml: report.display_names.spert: expected str"),
    ({"data": {"synthetic": {"train_size": -3}}}, "params.yaml: data.synthetic: SyntheticConfig.train_size"),
    ({"protocol": {"ade": "train"}}, "params.yaml: protocol.ade: expected a mapping"),
    ({"report": {"fold_test": "fold"}}, "params.yaml: report: fold_test: expected one of seed, corrected"),
    ({"report": {"published": [{"dataset": "conll04", "method": "spert", "metric": "rel_strict/micro_f1",
                                "value": 120, "source": "paper", "seeds": 5}]}},
     "params.yaml: report.published[0]: value: F1 in percent must lie in [0, 100]"),
    ({"report": {"published": [{"datset": "conll04"}]}}, "params.yaml: report.published[0].datset: unknown key"),
])
def test_wrong_types_and_values_name_their_path(section, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_params(section)


def test_the_tree_is_frozen_and_typed() -> None:
    params = parse_params({"grid": {"seeds": [1, 2], "methods": ["spert"]}, "train": {"lr": 1},
                           "protocol": {"conll04": {"dev_split": "none"}}})
    assert params.grid.seeds == (1, 2) and params.train.lr == 1.0 and isinstance(params.train.lr, float)
    assert params.protocol["conll04"].dev_split == "none" and params.protocol["conll04"].train_split is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.grid = None
    assert parse_params(None) == Params() == read_params(None)


def test_a_command_may_parse_only_its_sections() -> None:
    raw = {"suite": "toy", "tracking": {"enabled": True}, "methods": {"a": {"sleep": 3}}}
    with pytest.raises(ConfigError, match="methods.a.sleep: unknown key"):
        parse_params(raw)
    params = parse_params(raw, sections=("suite", "tracking"))
    assert params.tracking.enabled and params.experiment_name() == "toy" and params.methods == {}


def test_experiment_name_rule() -> None:
    assert parse_params({}).experiment_name() == "erbench"
    assert parse_params({"suite": "paper"}).experiment_name() == "paper"
    assert parse_params({"suite": "paper", "tracking": {"experiment": "mine"}}).experiment_name() == "mine"


def test_run_names() -> None:
    assert run_name("spert", "conll04", 3) == "spert-conll04-s3" == RunConfig("conll04", "spert", 3).run_name
    assert run_name("spert", "ade", 1, 4) == "spert-ade-s1-f4" == RunConfig("ade", "spert", 1, 4).run_name
    assert run_name("spert_mt", "conll04", 2, negatives=50) == "spert_mt-conll04-n50-s2"


def test_dvc_yaml_names_runs_as_run_name_does() -> None:
    """Every train-like stage's --out, outs and metrics are runs/<run_name(...)>/..., with the matrix's values."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    item = {"method": "spert_mt", "dataset": "conll04", "seed": 7, "fold": 3, "neg": 50}
    expected = {"train": run_name("spert_mt", "conll04", 7), "ablation": run_name("spert_mt", "conll04", 7),
                "train_kfold": run_name("spert_mt", "conll04", 7, 3),
                "sweep": "sweep/" + run_name("spert_mt", "conll04", 7, negatives=50)}
    for name, want in expected.items():
        stage = stages[name]
        text = yaml.safe_dump({k: stage.get(k) for k in ("cmd", "outs", "metrics")})
        text = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)
        folders = set(re.findall(r"runs/([\w./-]+?)/(?:config|predictions|metrics|environment|summary)\.json", text))
        assert folders == {want}, (name, folders)
        assert f"--out runs/{want}" in " ".join(text.split())


def test_run_folders_of_the_grid() -> None:
    params = parse_params({"grid": {"datasets": ["conll04"], "kfold_datasets": ["ade"], "folds": [0], "seeds": [1],
                                    "methods": ["spert"]},
                           "ablations": {"datasets": ["conll04"], "methods": ["spert_mt_no_iou"]},
                           "sweep": {"datasets": ["conll04"], "methods": ["spert"], "neg_counts": [50, 100],
                                     "seeds": [1]}})
    assert params.run_folders() == ["spert-conll04-s1", "spert-ade-s1-f0", "spert_mt_no_iou-conll04-s1",
                                    "sweep/spert-conll04-n50-s1"]  # n100 is spert's default: the main run


def test_every_suite_has_every_list_dvc_yaml_expands():
    """dvc.yaml's matrices read ${section.key} from params.yaml, which `erbench suite use` copies from a
    suite: a suite without one of them makes `dvc repro` fail to parse (it did once for choices)."""
    root = Path(__file__).resolve().parents[1]
    refs = set(re.findall(r"\$\{((?!item\.)[a-z_]+\.[a-z_.]+)\}", (root / "dvc.yaml").read_text()))
    assert {"grid.datasets", "choices.variants", "sweep.seeds"} <= refs
    for suite in sorted((root / "suites").glob("*.yaml")):
        raw = yaml.safe_load(suite.read_text())
        for ref in sorted(refs):
            node = raw
            for key in ref.split("."):
                assert isinstance(node, dict) and key in node, f"{suite.name}: no {ref} (dvc.yaml uses it)"
                node = node[key]


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_every_suite_variant_builds_a_run(path: Path, tmp_path: Path) -> None:
    """Each choices variant of a shipped suite, switched on or not, makes the RunConfig `erbench train
    --choice` makes: a misspelt option or value fails here, not hours into `dvc repro`."""
    from erbench.choices import variants
    from erbench.cli.train import build_run_config

    params = read_params(path)
    raw = yaml.safe_load(path.read_text())["choices"]["variants"]
    for name, entry in variants(params).items():
        runs = [(d, None) for d in params.choices.datasets or params.grid.datasets]
        runs += [(d, params.grid.folds[0]) for d in params.choices.kfold_datasets]  # choices_kfold: on folds
        for dataset, fold in runs:
            cfg = build_run_config(dataset, None, 1, fold, None, None, None, None, None, (), params,
                                   data_root=tmp_path, choice=name)
            assert (cfg.method, cfg.choice, cfg.choice_set) == (raw[name]["method"], name, raw[name]["set"])
            for key, value in entry["set"].items():
                owner = cfg.model if hasattr(cfg.model, key) else cfg.train
                assert getattr(owner, key) == value, f"{path.name}: {name}.{key}"
