"""params and --set -> frozen, typed dataclasses: unknown keys and wrong types are errors naming the key."""

from __future__ import annotations

import pytest
from erbench.config import ConfigError, ModelOptions, TrainOptions, apply_overrides, from_dict, split_overrides


def test_overrides_parse_yaml_scalars_and_numbers_without_a_dot():
    assert split_overrides(["lr=3e-4", "epochs=2", "loss=focal", "focal_alpha_relation=null", "x=true"]) == {
        "lr": 3e-4, "epochs": 2, "loss": "focal", "focal_alpha_relation": None, "x": True}


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown key 'epoch'.*epochs"):
        from_dict(TrainOptions, {"epoch": 3}, "params train")


def test_wrong_type_names_key_and_source():
    with pytest.raises(ConfigError, match="params train: 'epochs' must be int"):
        from_dict(TrainOptions, {"epochs": "many"}, "params train")
    with pytest.raises(ConfigError, match="'epochs' must be int"):
        from_dict(TrainOptions, {"epochs": True}, "params train")


def test_ints_are_accepted_for_floats_and_choices_are_checked():
    assert from_dict(TrainOptions, {"lr": 1}, "t").lr == 1.0
    with pytest.raises(ConfigError, match="iou_mode: expected one of scale, soft_target, none"):
        apply_overrides(ModelOptions(), {"iou_mode": "mt"})
    # head and loss names are the registries' (erbench.models.registry.check_options)
    from erbench.models.registry import check_options

    with pytest.raises(ConfigError, match="heads: expected one of spert, multitask"):
        check_options(apply_overrides(ModelOptions(), {"heads": "mt"}))
    with pytest.raises(ConfigError, match="loss: 'focal' applies to SpERT heads only"):
        check_options(apply_overrides(ModelOptions(), {"heads": "multitask", "loss": "focal"}))


def test_set_needs_key_value():
    with pytest.raises(ConfigError, match="expected key=value"):
        split_overrides(["lr"])


def test_a_params_file_in_the_working_directory_is_not_read_unless_named(tmp_path, monkeypatch):
    from erbench.cli.train import build_run_config
    from erbench.params import Params, read_params

    (tmp_path / "params.yaml").write_text("train: {lr: 1.0e-4}\n")
    monkeypatch.chdir(tmp_path)
    assert read_params(None) == Params()
    cfg = build_run_config("conll04", "spert", 1, None, "train", "test", "none", None, None, (), read_params(None))
    assert cfg.train.lr == 5e-5
    named = build_run_config("conll04", "spert", 1, None, "train", "test", "none", None, None, (),
                             read_params(tmp_path / "params.yaml"))
    assert named.train.lr == 1e-4
