"""`erbench data stage` and `erbench data stats` through click's test runner (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.cli import main
from erbench.datasets.registry import CANONICAL_BASE

NO_MIRROR_ENV = {"ERBENCH_DATA_MIRROR": None, "CI": "true"}  # None removes the variable for the call

TYPES = {"entities": {"Peop": {"short": "P", "verbose": "People"}, "Org": {"short": "O", "verbose": "Org"}},
         "relations": {"Work_For": {"short": "W", "verbose": "Work for", "symmetric": False}}}
DOC = {"tokens": ["John", "Smith", "works", "for", "Acme", "."],
       "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 5}],
       "relations": [{"type": "Work_For", "head": 0, "tail": 1}]}


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env={**NO_MIRROR_ENV, **(env or {})})


def said(result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def error_line(result) -> str:
    """The single line a failing command prints on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(autouse=True)
def no_params_file(tmp_path, monkeypatch):
    """Run from an empty folder so a params.yaml in the checkout cannot change what is tested."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def staged(shared_dir, tmp_path_factory) -> tuple[Path, object]:
    """conll04 staged once through the CLI from ../shared/datasets."""
    root = tmp_path_factory.mktemp("cli_data")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = run("data", "stage", "conll04", "--mirror", str(shared_dir / "datasets"),
                     "--data-root", str(root / "data"))
    return root / "data", result


# ---- the real CoNLL04 --------------------------------------------------------------------------------------


def test_stage_conll04_from_mirror(staged, shared_dir):
    data_root, result = staged
    assert result.exit_code == 0, result.output
    assert f"staged conll04 into {data_root / 'raw' / 'conll04'} from" in said(result)
    assert "(sha256 verified): dev 231, test 288, train 922, train_dev 1153" in said(result)
    manifest = json.loads((data_root / "raw" / "conll04" / "STAGED.json").read_text())
    assert manifest["origin"] == str(shared_dir / "datasets")


def test_stats_json_gives_the_published_counts(staged):
    data_root, _ = staged
    result = run("data", "stats", "conll04", "--data-root", str(data_root), "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert list(stats) == ["train", "dev", "test", "train_dev"]
    got = {s: (v["documents"], v["entities"], v["relations"]) for s, v in stats.items()}
    assert got == {"train": (922, 3377, 1283), "dev": (231, 893, 343), "test": (288, 1079, 422),
                   "train_dev": (1153, 4270, 1626)}
    assert stats["train"]["entities_wider_than_span_limit"] == 2


def test_stats_tables_and_span_limit_option(staged):
    data_root, _ = staged
    result = run("data", "stats", "conll04", "--data-root", str(data_root), "--max-span-size", "3")
    assert result.exit_code == 0, result.output
    for part in ("conll04: size", "conll04: entity structure", "conll04: entities per type", "922", "3377",
                 "wider than 3", "Work_For"):
        assert part in result.stdout, part
    bad = run("data", "stats", "conll04", "--data-root", str(data_root), "--max-span-size", "0")
    assert bad.exit_code == 2
    assert "max_span_size: must be >= 1" in error_line(bad)


def test_env_mirror_is_honoured(shared_dir, tmp_path):
    mirror = str(shared_dir / "datasets")
    result = run("data", "stage", "conll04", "--data-root", str(tmp_path / "d"),
                 env={"ERBENCH_DATA_MIRROR": mirror})
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "d" / "raw" / "conll04" / "STAGED.json").read_text())
    assert manifest["origin"] == mirror


# ---- small mirrors built here ------------------------------------------------------------------------------


def tiny_mirror(folder: Path, name: str = "mine") -> Path:
    folder.mkdir(parents=True)
    (folder / f"{name}_types.json").write_text(json.dumps(TYPES))
    for split, n in (("train", 3), ("test", 2)):
        (folder / f"{name}_{split}.json").write_text(json.dumps([{**DOC, "orig_id": i} for i in range(n)]))
    return folder


def write_params(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump({"data": data}))
    return path


def test_custom_dataset_from_params(tmp_path):
    src = tiny_mirror(tmp_path / "src")
    params = write_params(tmp_path / "p.yaml", {"custom": {"mine": {
        "types": str(src / "mine_types.json"),
        "splits": {"train": str(src / "mine_train.json"), "test": str(src / "mine_test.json")}}}})
    root = str(tmp_path / "d")
    result = run("data", "stage", "mine", "--data-root", root, "--params", str(params))
    assert result.exit_code == 0, result.output
    assert "(sha256 verified): test 2, train 3" in said(result)
    stats = run("data", "stats", "mine", "--data-root", root, "--params", str(params), "--json")
    assert stats.exit_code == 0, stats.output
    assert {s: v["relations"] for s, v in json.loads(stats.stdout).items()} == {"train": 3, "test": 2}


def test_params_mirror_and_precedence(tmp_path, shared_dir):
    """--mirror beats $ERBENCH_DATA_MIRROR, which beats params data.mirror."""
    params = write_params(tmp_path / "p.yaml", {"mirror": str(tmp_path / "from_params")})
    root = tmp_path / "d"
    mirror = str(shared_dir / "datasets")

    def origin(*extra, env=None):
        args = ["data", "stage", "conll04", "--data-root", str(root), "--params", str(params), *extra]
        result = run(*args, env=env)
        assert result.exit_code in (0, 2), result.output
        return result

    only_params = origin()
    assert only_params.exit_code == 2
    assert f"params data.mirror: {tmp_path / 'from_params'} is not a directory" in error_line(only_params)
    env_wins = origin(env={"ERBENCH_DATA_MIRROR": mirror})
    assert env_wins.exit_code == 0
    flag_wins = origin("--mirror", str(tmp_path / "nowhere"), env={"ERBENCH_DATA_MIRROR": mirror})
    assert flag_wins.exit_code == 2
    assert f"--mirror: {tmp_path / 'nowhere'} is not a directory" in error_line(flag_wins)


def test_env_mirror_that_is_not_a_directory_is_named(tmp_path):
    result = run("data", "stage", "conll04", "--data-root", str(tmp_path / "d"),
                 env={"ERBENCH_DATA_MIRROR": str(tmp_path / "nowhere")})
    assert result.exit_code == 2
    line = error_line(result)
    assert line == f"error: $ERBENCH_DATA_MIRROR: {tmp_path / 'nowhere'} is not a directory"


def test_tampered_mirror_is_refused(tmp_path):
    tiny = tiny_mirror(tmp_path / "m" / "mine")
    params = write_params(tmp_path / "p.yaml", {"custom": {"mine": {
        "types": str(tiny / "mine_types.json"), "splits": {"train": str(tiny / "mine_train.json")},
        "sha256": {"mine_train.json": "0" * 64}}}})
    result = run("data", "stage", "mine", "--data-root", str(tmp_path / "d"), "--params", str(params))
    assert result.exit_code == 2
    assert "mine_train.json: sha256 mismatch" in error_line(result)
    assert not (tmp_path / "d").exists()  # nothing left under the data root


def test_download_failure_names_file_and_url(tmp_path, monkeypatch):
    import pooch

    def offline(url, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(pooch, "retrieve", offline)
    result = run("data", "stage", "scierc", "--data-root", str(tmp_path / "d"))
    assert result.exit_code == 2
    line = error_line(result)
    assert f"scierc_types.json: download from {CANONICAL_BASE}/scierc/scierc_types.json failed" in line


# ---- errors and help ---------------------------------------------------------------------------------------


def test_stats_on_a_dataset_not_staged(tmp_path):
    result = run("data", "stats", "scierc", "--data-root", str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert "run `erbench data stage scierc`" in error_line(result)


@pytest.mark.parametrize("command", ["stage", "stats"])
def test_unknown_dataset_lists_known_names(tmp_path, command):
    result = run("data", command, "conll03", "--data-root", str(tmp_path / "d"))
    assert result.exit_code == 2
    line = error_line(result)
    assert "unknown dataset 'conll03'" in line
    assert "known: ade, conll04, scierc, synthetic" in line


@pytest.mark.parametrize("args", [[], ["data"], ["data", "stage"], ["data", "stats"]])
def test_help(args):
    result = run(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    if args == ["data"]:
        assert "stage" in result.stdout and "stats" in result.stdout


# ---- the synthetic corpus (benchmark/datasets/synthetic.py) ----------------------------------------------


def test_stage_synthetic_and_describe_it(tmp_path):
    small = {"train_size": 30, "dev_size": 10, "test_size": 20, "seed": 3}
    params = write_params(tmp_path / "p.yaml", {"synthetic": small})
    root = str(tmp_path / "d")
    result = run("data", "stage", "synthetic", "--data-root", root, "--params", str(params))
    assert result.exit_code == 0, result.output
    assert "from generated (sha256 verified): dev 10, test 20, train 30, train_dev 40" in said(result)
    manifest = json.loads((tmp_path / "d" / "raw" / "synthetic" / "STAGED.json").read_text())
    assert manifest["origin"] == "generated" and manifest["synthetic"]["seed"] == 3
    stats = run("data", "stats", "synthetic", "--data-root", root, "--json")
    assert stats.exit_code == 0, stats.output
    assert {s: v["documents"] for s, v in json.loads(stats.stdout).items()} == {
        "train": 30, "dev": 10, "test": 20, "train_dev": 40}


def test_stage_synthetic_with_defaults(tmp_path):
    result = run("data", "stage", "synthetic", "--data-root", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    assert "dev 60, test 120, train 240, train_dev 300" in said(result)
