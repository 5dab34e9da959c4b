"""Staging (copy or download, sha256, validation, atomic rename) and the dataset registry."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from erbench.config import ConfigError
from erbench.datasets import registry
from erbench.datasets.registry import BUILTIN, SHA256, DatasetFile, DatasetSpec, custom_spec, resolve
from erbench.datasets.stage import (
    MANIFEST,
    StageError,
    load_split,
    sha256_of,
    stage_dataset,
    staged_manifest,
)

TYPES = {"entities": {"Peop": {"short": "P", "verbose": "People"}, "Org": {"short": "O", "verbose": "Org"}},
         "relations": {"Work_For": {"short": "W", "verbose": "Work for", "symmetric": False}}}


def doc(i: int) -> dict:
    return {"tokens": ["John", "Smith", "works", "for", "Acme", "."],
            "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 5}],
            "relations": [{"type": "Work_For", "head": 0, "tail": 1}], "orig_id": i}


TINY = {"tiny_types.json": TYPES, "tiny_train.json": [doc(i) for i in range(3)],
        "tiny_test.json": [doc(i) for i in range(3, 5)]}


def write_files(folder: Path, files: dict[str, object]) -> dict[str, str]:
    """Write JSON files and return their sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        (folder / name).write_text(json.dumps(payload))
    return {name: sha256_of(folder / name) for name in files}


def tiny_spec(hashes: dict[str, str | None], url: str | None = None) -> DatasetSpec:
    def f(name: str) -> DatasetFile:
        return DatasetFile(name, hashes.get(name), f"{url}/{name}" if url else None)

    splits = {"train": f("tiny_train.json"), "test": f("tiny_test.json")}
    return DatasetSpec("tiny", splits, f("tiny_types.json"))


def leftovers(data_root: Path) -> list[str]:
    """Anything in data_root/raw besides staged dataset folders (temp or .old folders)."""
    raw = data_root / "raw"
    return sorted(p.name for p in raw.iterdir() if p.name.startswith(".")) if raw.exists() else []


@pytest.fixture
def mirror(tmp_path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "mirror"
    return root, write_files(root / "tiny", TINY)


def test_sha256_of_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * (3 << 20) + b"tail")  # several read blocks
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_stage_from_mirror_writes_files_and_manifest(tmp_path, mirror):
    root, hashes = mirror
    target = stage_dataset(tiny_spec(hashes), tmp_path / "data", mirror=root)
    assert target == tmp_path / "data" / "raw" / "tiny"
    assert sorted(p.name for p in target.iterdir()) == sorted([*TINY, MANIFEST])
    for name, payload in TINY.items():
        assert json.loads((target / name).read_text()) == payload
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest == {"dataset": "tiny", "origin": str(root), "sha256": hashes,
                        "documents": {"train": 3, "test": 2}}
    assert staged_manifest(tmp_path / "data", "tiny") == manifest
    assert leftovers(tmp_path / "data") == []


def test_stage_from_flat_mirror(tmp_path):
    hashes = write_files(tmp_path / "flat", TINY)  # MIRROR/FILE instead of MIRROR/NAME/FILE
    target = stage_dataset(tiny_spec(hashes), tmp_path / "data", mirror=tmp_path / "flat")
    assert json.loads((target / MANIFEST).read_text())["documents"] == {"train": 3, "test": 2}


def test_load_split_after_staging(tmp_path, mirror):
    root, hashes = mirror
    spec = tiny_spec(hashes)
    stage_dataset(spec, tmp_path / "data", mirror=root)
    docs, types = load_split(tmp_path / "data", spec, "test")
    assert [d.orig_id for d in docs] == [3, 4]
    assert types.entities == ("Peop", "Org") and types.relations == ("Work_For",)


def test_tampered_file_is_refused_and_nothing_is_left(tmp_path, mirror):
    root, hashes = mirror
    path = root / "tiny" / "tiny_train.json"
    path.write_text(path.read_text().replace("Acme", "Acne", 1))  # still valid JSON
    with pytest.raises(StageError) as info:
        stage_dataset(tiny_spec(hashes), tmp_path / "data", mirror=root)
    message = str(info.value)
    assert message.startswith("tiny_train.json: sha256 mismatch")
    assert hashes["tiny_train.json"] in message and sha256_of(path) in message
    assert not (tmp_path / "data" / "raw" / "tiny").exists()
    assert not (tmp_path / "data").exists()  # nothing left under the data root


def test_failed_restage_keeps_the_previous_copy(tmp_path, mirror):
    root, hashes = mirror
    spec = tiny_spec(hashes)
    target = stage_dataset(spec, tmp_path / "data", mirror=root)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    (root / "tiny" / "tiny_test.json").write_text("[]")
    with pytest.raises(StageError, match="tiny_test.json: sha256 mismatch"):
        stage_dataset(spec, tmp_path / "data", mirror=root)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert leftovers(tmp_path / "data") == []


def test_missing_file_in_mirror_is_named(tmp_path, mirror):
    root, hashes = mirror
    (root / "tiny" / "tiny_test.json").unlink()
    with pytest.raises(StageError) as info:
        stage_dataset(tiny_spec(hashes), tmp_path / "data", mirror=root)
    message = str(info.value)
    assert message.startswith("tiny_test.json: not found in mirror")
    assert str(root / "tiny" / "tiny_test.json") in message and str(root / "tiny_test.json") in message
    assert not (tmp_path / "data").exists()  # nothing left under the data root


def test_restaging_replaces_the_folder(tmp_path, mirror):
    root, hashes = mirror
    target = stage_dataset(tiny_spec(hashes), tmp_path / "data", mirror=root)
    (target / "stray.txt").write_text("left from an older staging")
    new = write_files(root / "tiny", {"tiny_test.json": [doc(i) for i in range(7)]})
    target2 = stage_dataset(tiny_spec({**hashes, **new}), tmp_path / "data", mirror=root)
    assert target2 == target
    assert not (target / "stray.txt").exists()
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["documents"] == {"train": 3, "test": 7}
    assert manifest["sha256"]["tiny_test.json"] == new["tiny_test.json"]
    assert sorted(p.name for p in (tmp_path / "data" / "raw").iterdir()) == ["tiny"]


def test_invalid_content_fails_staging_with_file_document_and_field(tmp_path, mirror):
    root, _ = mirror
    bad = [doc(0), {**doc(1), "relations": [{"type": "Work_For", "head": 0, "tail": 5}]}]
    hashes = write_files(root / "tiny", {"tiny_train.json": bad})
    spec = tiny_spec({})  # no known sha256: computed and recorded, so only validation can fail
    with pytest.raises(StageError) as info:
        stage_dataset(spec, tmp_path / "data", mirror=root)
    message = str(info.value)
    # the mirror's own file is named (the staged copy is gone after the failure)
    assert f"{root / 'tiny' / 'tiny_train.json'}: document 1 (0-based): relations[0].tail: entity index 5" in message
    assert ".staging-" not in message  # the temp folder is not shown to the user
    assert hashes  # the file was written
    assert not (tmp_path / "data").exists()  # nothing left under the data root


# ---- downloads (never the network: pooch.retrieve is replaced) -------------------------------------------


def test_download_failure_names_file_and_url(tmp_path, monkeypatch):
    import pooch

    calls = []

    def offline(url, **kwargs):
        calls.append(url)
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(StageError) as info:
        stage_dataset(BUILTIN["conll04"], tmp_path / "data")
    url = f"{registry.CANONICAL_BASE}/conll04/conll04_types.json"
    assert calls == [url]
    expected = f"conll04_types.json: download from {url} failed: ConnectionError: no network in tests"
    assert str(info.value) == expected
    assert not (tmp_path / "data").exists()  # nothing left under the data root


def test_download_hash_mismatch_is_refused(tmp_path, monkeypatch):
    import pooch

    def wrong_hash(url, **kwargs):
        raise ValueError("SHA256 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", wrong_hash)
    expected = r"conll04_types\.json: downloaded from http://\S+ but its sha256 does not match"
    with pytest.raises(StageError, match=expected):
        stage_dataset(BUILTIN["conll04"], tmp_path / "data")
    assert not (tmp_path / "data").exists()  # nothing left under the data root


def test_download_success_is_verified_and_recorded(tmp_path, monkeypatch):
    import pooch

    source = tmp_path / "server"
    hashes = write_files(source, TINY)
    seen = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        seen[fname] = (url, known_hash)
        shutil.copyfile(source / fname, Path(path) / fname)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    target = stage_dataset(tiny_spec(hashes, url="http://example.invalid/tiny"), tmp_path / "data")
    assert seen["tiny_train.json"] == ("http://example.invalid/tiny/tiny_train.json",
                                       f"sha256:{hashes['tiny_train.json']}")
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["origin"] == "canonical URLs" and manifest["sha256"] == hashes


def test_no_url_and_no_mirror(tmp_path):
    with pytest.raises(StageError, match="tiny_types.json: no canonical URL is known; give a mirror"):
        stage_dataset(tiny_spec({}), tmp_path / "data")


# ---- custom datasets from params ---------------------------------------------------------------------


def test_custom_dataset_from_params_paths(tmp_path):
    src = tmp_path / "mine"
    hashes = write_files(src, TINY)
    entry = {"types": str(src / "tiny_types.json"),
             "splits": {"train": str(src / "tiny_train.json"), "test": str(src / "tiny_test.json")},
             "sha256": {"mine_train.json": hashes["tiny_train.json"]}}
    spec = resolve("mine", {"mine": entry})
    assert spec == custom_spec("mine", entry)
    assert [f.name for f in spec.files] == ["mine_types.json", "mine_train.json", "mine_test.json"]
    target = stage_dataset(spec, tmp_path / "data", mirror=tmp_path / "ignored")
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["sha256"] == {"mine_types.json": hashes["tiny_types.json"],
                                  "mine_train.json": hashes["tiny_train.json"],
                                  "mine_test.json": hashes["tiny_test.json"]}
    assert manifest["documents"] == {"train": 3, "test": 2}
    docs, _ = load_split(tmp_path / "data", spec, "train")
    assert len(docs) == 3


def test_custom_dataset_wrong_sha_or_missing_source(tmp_path):
    src = tmp_path / "mine"
    write_files(src, TINY)
    entry = {"types": str(src / "tiny_types.json"), "splits": {"train": str(src / "tiny_train.json")},
             "sha256": {"mine_types.json": "0" * 64}}
    with pytest.raises(StageError, match="mine_types.json: sha256 mismatch"):
        stage_dataset(custom_spec("mine", entry), tmp_path / "data")
    entry = {"types": str(src / "tiny_types.json"), "splits": {"train": str(src / "nope.json")}}
    with pytest.raises(StageError, match=r"\S*nope.json: source file of mine's mine_train.json does not exist"):
        stage_dataset(custom_spec("mine", entry), tmp_path / "data")
    assert not (tmp_path / "data").exists()  # nothing left under the data root


@pytest.mark.parametrize(
    "name,entry,expected",
    [
        ("conll04", {"types": "t", "splits": {"train": "a"}}, "'conll04' is a built-in dataset name"),
        ("mine", ["t"], "expected a mapping with 'types' and 'splits'"),
        ("mine", {"types": "t", "splits": {"train": "a"}, "folds": 3}, "unknown key 'folds'"),
        ("mine", {"splits": {"train": "a"}}, "mine.types: give the path"),
        ("mine", {"types": "t", "splits": {}}, "mine.splits: give a mapping split -> path"),
        ("mine", {"types": "t", "splits": {"train": 3}}, "mine.train: expected a path string"),
        ("mine", {"types": "t", "splits": {"train": "a"}, "sha256": ["x"]}, "sha256: expected a mapping"),
    ],
)
def test_bad_custom_entries(name, entry, expected):
    with pytest.raises(ConfigError, match=expected):
        custom_spec(name, entry)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(ConfigError) as info:
        resolve("conll03", {"mine": {}})
    assert str(info.value).startswith("unknown dataset 'conll03' (known: ade, conll04, scierc, synthetic, mine;")


def test_not_staged_says_how_to_stage(tmp_path):
    expected = r"dataset conll04: not staged under .*; run `erbench data stage conll04`"
    with pytest.raises(StageError, match=expected):
        staged_manifest(tmp_path, "conll04")


def test_split_keys():
    ade, conll = BUILTIN["ade"], BUILTIN["conll04"]
    assert ade.split_key("train", 3) == "split_3_train" and ade.split_key("full", 0) == "full"
    assert conll.split_key("train_dev", None) == "train_dev"
    bad = [(ade, "train", None, "give a fold"), (ade, "test", 10, "out of range"),
           (ade, "dev", 0, "no split 'split_0_dev'"), (conll, "train", 1, "no folds")]
    for spec, split, fold, expected in bad:
        with pytest.raises(ConfigError, match=expected):
            spec.split_key(split, fold)


# ---- the real corpora (../shared/datasets; skipped when absent) -------------------------------------------

EXPECTED_DOCUMENTS = {
    "conll04": {"train": 922, "dev": 231, "test": 288, "train_dev": 1153},
    "scierc": {"train": 1861, "dev": 275, "test": 551, "train_dev": 2136},
    "ade": {"full": 4272, **{f"split_{k}_test": 427 if k < 9 else 429 for k in range(10)},
            **{f"split_{k}_train": 3845 if k < 9 else 3843 for k in range(10)}},
}


@pytest.fixture(scope="module")
def real_root(shared_dir, tmp_path_factory) -> Path:
    """conll04, scierc and ade staged once for this module from ../shared/datasets."""
    root = tmp_path_factory.mktemp("real_data")
    for name in ("conll04", "scierc", "ade"):
        stage_dataset(BUILTIN[name], root, mirror=shared_dir / "datasets")
    return root


@pytest.mark.parametrize("name", ["conll04", "scierc", "ade"])
def test_real_dataset_stages_with_published_counts(real_root, shared_dir, name):
    manifest = staged_manifest(real_root, name)
    assert manifest["documents"] == EXPECTED_DOCUMENTS[name]
    assert manifest["origin"] == str(shared_dir / "datasets")
    assert manifest["sha256"] == {f.name: SHA256[f.name] for f in BUILTIN[name].files}
    assert leftovers(real_root) == []


def test_real_conll04_entity_and_relation_counts(real_root):
    spec = BUILTIN["conll04"]
    counts = {}
    for split in ("train", "dev", "test"):
        docs, _ = load_split(real_root, spec, split)
        counts[split] = (sum(len(d.entities) for d in docs), sum(len(d.relations) for d in docs))
    assert counts == {"train": (3377, 1283), "dev": (893, 343), "test": (1079, 422)}


def test_registry_hashes_match_the_mirror_manifest(shared_dir):
    rows = (shared_dir / "datasets" / "MANIFEST.tsv").read_text().splitlines()[1:]
    manifest = {r.split("\t")[1]: r.split("\t")[2] for r in rows if r.strip()}
    assert manifest == SHA256


def test_real_tampered_copy_is_refused(shared_dir, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(shared_dir / "datasets" / "conll04", mirror / "conll04")
    path = mirror / "conll04" / "conll04_dev.json"
    data = bytearray(path.read_bytes())
    pos = data.index(b'"tokens"') + 12  # inside the first token: the JSON stays valid-looking
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(StageError) as info:
        stage_dataset(BUILTIN["conll04"], tmp_path / "data", mirror=mirror)
    assert str(info.value).startswith("conll04_dev.json: sha256 mismatch")
    assert SHA256["conll04_dev.json"] in str(info.value)
    assert not (tmp_path / "data").exists()  # nothing left under the data root
