"""The dataset registry: every dataset's files, sha256 and canonical URL, in one place.

Built-in: CoNLL04, SciERC and ADE in SpERT's JSON format (Eberts & Ulges 2020), with the
sha256 of every file as published in SpERT's data directory, and the embedded `synthetic`
corpus that the project generates itself. A user's own dataset in the same format is
registered from params (`data.custom`) and goes through the same staging and validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from erbench.config import ConfigError

CANONICAL_BASE = "http://lavis.cs.hs-rm.de/storage/spert/public/datasets"

SHA256 = {
    "conll04_types.json": "9244d21d2640430f03eda97f59ce3e0a28a766964b1c04683c80656b5e505ad8",
    "conll04_train.json": "65c52d5b6134c72c44277c74c5ecb354bf33aa352fc7b856edf6bda0bb436eea",
    "conll04_dev.json": "3965a5110a79671fb74a78c0fd0113c4da6583c3833bd418c1ca414bb491e010",
    "conll04_test.json": "347f45cf181b5641d2373248a1af0592954415234f72536835dde1df1b504556",
    "conll04_train_dev.json": "1eae483f3206145159d06099964ebd421b5a9c46ea1d838fc3faf0ba1baeafa1",
    "scierc_types.json": "c092a29d28cc0186b5846c1c56e844e3cb07c6f5196c2efdf432888119434a85",
    "scierc_train.json": "40879beb794a2d947c60f4e7e936c269b5f35ce516e9e155cbff1feea0c3e8da",
    "scierc_dev.json": "77506c1a9d9e6a3f596fdce937a1d80679c24df75a8b7cb836737c2a43ff0ec0",
    "scierc_test.json": "ecc88eca58a88cf2087aaa996dada9edad433c3c2f3f8f5be93625b098c20703",
    "scierc_train_dev.json": "b559f38de2d7918ae08c3c5db4b8cf352bc936c44168d7f83aca2cfd14245b23",
    "ade_types.json": "3675aea50f600cb61d4e55ffa2e376ac64385a3d8a6e8f54c27e07ab44f46919",
    "ade_full.json": "5bc2355bcb3fa326d0749af0368e7b428b44a63fb8a1fb76ffeef14825e51384",
    "ade_split_0_test.json": "6d6a3584d3876a35854ef703f7a7059363599ad7ed3ab9c3e6e449ae8a252e9a",
    "ade_split_0_train.json": "6624ac4d015c75f551aa15a43bd05e268082d98297d18269662737f7df358365",
    "ade_split_1_test.json": "532fa740c11466c54d06dfe4e2989bd800c046cb31c409f074b7b3d49cf99b23",
    "ade_split_1_train.json": "811befd6d23d2aeb7cff3469d4b22d0c58fa61557b03257986ea1559042d42fe",
    "ade_split_2_test.json": "69c4844907809f4e76516d7e9b7f8f2fa5eab2bdf27ee0dc02bdb367e673f994",
    "ade_split_2_train.json": "c13ff04545537879e1d2fa41ed25c4e5831bbd75d2c07a4d7c0e60d2691b5b25",
    "ade_split_3_test.json": "07e188e39118bd9644d4bb74ad841099853a5dfbecb035e5af2dc83a7d927495",
    "ade_split_3_train.json": "1d65b2aab0da37d3125cb0a90f6c66ad05af4ebb6f4685c4ede242cfb587cb1e",
    "ade_split_4_test.json": "937eff5f8982fff83655872fcf150876145e75a381dcedfc45e2411f47146edc",
    "ade_split_4_train.json": "de8cdb999563697d330d97b9ac95a5ae1c83106eb812f25b12d807c6628f28a4",
    "ade_split_5_test.json": "d01d706574d4921304d3b53a0b013fbe41d2f97439245cf768c503df1e70a9f3",
    "ade_split_5_train.json": "474668717b0fbcb4cf6fda984b8897b2e66f2550c9a052187c6ece012960a6cf",
    "ade_split_6_test.json": "3e35e7278060f16103665a47db1480e305346f255872ced202617c6d8025bb01",
    "ade_split_6_train.json": "c3e41dea7c11c34da7f32be45ced3a162fff30abeb0939698937fe7a83446dca",
    "ade_split_7_test.json": "6c4f25fffd1ce4fb1bf67bc54713b44f6e1abb9ca744d06a38ed88731a8d1371",
    "ade_split_7_train.json": "3839c5f7cfd5c9e260a3a60a9c79f6ed54d21d66288413c8a2c2d8e985e9081c",
    "ade_split_8_test.json": "69fb620cc4f9fe4d35533dba74b7234ebb2c2e69a988a8945219563ad12feb3c",
    "ade_split_8_train.json": "9c5c698bb7d5a72e11685a63de4a6b525e073eede445eaae0d44ce42166fffcc",
    "ade_split_9_test.json": "a02776d17963ada8aad5e1d4370e96d2478a8e44fd0944274ac0c44f4499b0ed",
    "ade_split_9_train.json": "e863f0b8a717364fd553e55e041ea89e2a52d116e5b047cbaa1882410ab0813f",
}


@dataclass(frozen=True)
class DatasetFile:
    name: str  # file name inside the staged folder
    sha256: str | None = None  # None: computed at staging time and recorded (custom data)
    url: str | None = None  # canonical download address
    source: str | None = None  # a local path for custom datasets


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its split files and types file; `folds` > 0 means k-fold splits (ADE)."""

    name: str
    splits: dict[str, DatasetFile] = field(hash=False)
    types: DatasetFile = field(hash=False)
    folds: int = 0
    no_overlapping: bool = False  # the literature's evaluation setting for this dataset
    generated: bool = False  # made by the project (synthetic), not copied or downloaded
    # a user's dataset: its declaration as staging records it in STAGED.json (splits, types, no_overlapping,
    # and the report's display_name, relation headline and average when declared); None for built-ins
    custom: dict | None = field(default=None, hash=False, compare=False)

    @property
    def files(self) -> list[DatasetFile]:
        return [self.types, *self.splits.values()]

    def split_key(self, split: str, fold: int | None) -> str:
        """Map a protocol split ('train', 'test', ...) and a fold to this dataset's split key."""
        if self.folds:
            if fold is None:
                raise ConfigError(f"dataset {self.name}: has {self.folds} folds, give a fold (0..{self.folds - 1})")
            if not 0 <= fold < self.folds:
                raise ConfigError(f"dataset {self.name}: fold {fold} out of range 0..{self.folds - 1}")
            key = split if split == "full" else f"split_{fold}_{split}"
        else:
            if fold is not None:
                raise ConfigError(f"dataset {self.name}: has no folds, but fold {fold} was given")
            key = split
        if key not in self.splits:
            raise ConfigError(f"dataset {self.name}: no split '{key}' (has: {', '.join(self.splits)})")
        return key


def _canonical(dataset: str, name: str) -> DatasetFile:
    return DatasetFile(name, SHA256[name], f"{CANONICAL_BASE}/{dataset}/{name}")


def _builtin() -> dict[str, DatasetSpec]:
    specs = {}
    for name in ("conll04", "scierc"):
        splits = {s: _canonical(name, f"{name}_{s}.json") for s in ("train", "dev", "test", "train_dev")}
        specs[name] = DatasetSpec(name, splits, _canonical(name, f"{name}_types.json"))
    ade = {"full": _canonical("ade", "ade_full.json")}
    for k in range(10):
        for s in ("train", "test"):
            ade[f"split_{k}_{s}"] = _canonical("ade", f"ade_split_{k}_{s}.json")
    specs["ade"] = DatasetSpec("ade", ade, _canonical("ade", "ade_types.json"), folds=10, no_overlapping=True)
    synthetic = {s: DatasetFile(f"synthetic_{s}.json") for s in ("train", "dev", "test", "train_dev")}
    specs["synthetic"] = DatasetSpec("synthetic", synthetic, DatasetFile("synthetic_types.json"), generated=True)
    return specs


BUILTIN = _builtin()


def custom_spec(name: str, entry: dict) -> DatasetSpec:
    """A user's dataset from params: {types: PATH, splits: {split: PATH}, sha256: {file: HEX}, ...}."""
    where = f"params data.custom.{name}"
    if name in BUILTIN:
        raise ConfigError(f"{where}: '{name}' is a built-in dataset name; choose another")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with 'types' and 'splits'")
    unknown = sorted(set(entry) - set(CUSTOM_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (valid: {', '.join(CUSTOM_KEYS)})")
    if entry.get("relation", "rel_strict") not in ("rel_strict", "rel"):
        raise ConfigError(f"{where}.relation: headline relation metric must be rel_strict (RE+) or rel (RE), "
                          f"got {entry['relation']!r}")
    if entry.get("average", "micro") not in ("micro", "macro"):
        raise ConfigError(f"{where}.average: must be micro or macro, got {entry['average']!r}")
    if not isinstance(entry.get("display_name", name), str):
        raise ConfigError(f"{where}.display_name: expected a string")
    if not isinstance(entry.get("types"), str):
        raise ConfigError(f"{where}.types: give the path of the types JSON file")
    splits = entry.get("splits")
    if not isinstance(splits, dict) or not splits:
        raise ConfigError(f"{where}.splits: give a mapping split -> path (e.g. train, dev, test)")
    hashes = entry.get("sha256") or {}
    if not isinstance(hashes, dict):
        raise ConfigError(f"{where}.sha256: expected a mapping file name -> hex digest")

    def one(path: str, label: str) -> DatasetFile:
        if not isinstance(path, str):
            raise ConfigError(f"{where}.{label}: expected a path string")
        fname = f"{name}_{label}.json"
        return DatasetFile(fname, hashes.get(fname), None, path)

    if "types" in splits:
        raise ConfigError(f"{where}.splits: 'types' cannot be a split name (it is the types file's name)")
    files = {split: one(path, split) for split, path in splits.items()}
    types = one(entry["types"], "types")
    record = {"types": types.name, "splits": {s: f.name for s, f in files.items()},
              "no_overlapping": bool(entry.get("no_overlapping")), "display_name": entry.get("display_name", name),
              "relation": entry.get("relation", "rel_strict"), "average": entry.get("average", "micro")}
    return DatasetSpec(name, files, types, no_overlapping=record["no_overlapping"], custom=record)


CUSTOM_KEYS = ("types", "splits", "sha256", "no_overlapping", "display_name", "relation", "average")


def staged_custom(data_root: Path, name: str, *, restage: bool = False) -> DatasetSpec | None:
    """A user's dataset as `erbench data stage NAME --params ...` recorded it under data_root (or None).
    `restage`: the spec to stage it again from the source files STAGED.json recorded, whose sha256 is
    then measured anew (the staged sha256 is what a changed source no longer has)."""
    manifest = Path(data_root) / "raw" / name / "STAGED.json"
    if not manifest.is_file():
        return None
    record = json.loads(manifest.read_text()).get("custom")
    if not isinstance(record, dict):
        return None
    hashes = json.loads(manifest.read_text()).get("sha256") or {}
    sources = record.get("sources") or {}
    if restage:
        missing = sorted(f for f in [record["types"], *record["splits"].values()] if f not in sources)
        if missing:
            raise ConfigError(f"{manifest}: records no source file for {missing[0]}; stage {name} again with "
                              "--params FILE (its data.custom entry)")

        def file(f: str) -> DatasetFile:
            return DatasetFile(f, None, None, sources[f])
    else:
        def file(f: str) -> DatasetFile:
            return DatasetFile(f, hashes.get(f))
    splits = {s: file(f) for s, f in record["splits"].items()}
    return DatasetSpec(name, splits, file(record["types"]), no_overlapping=bool(record.get("no_overlapping")),
                       custom={k: v for k, v in record.items() if k != "sources"} if restage else record)


def staged_custom_names(data_root: Path) -> list[str]:
    raw = Path(data_root) / "raw"
    return sorted(p.name for p in raw.iterdir() if staged_custom(data_root, p.name)) if raw.is_dir() else []


def resolve(name: str, custom: dict | None = None, data_root: Path | None = None) -> DatasetSpec:
    """Look a dataset up by name: the built-ins, the user's `custom` entries (params data.custom), then
    the user's datasets staged under `data_root` (their STAGED.json records the declaration)."""
    clash = sorted(set(custom or {}) & set(BUILTIN))
    if clash:
        raise ConfigError(f"params data.custom.{clash[0]}: '{clash[0]}' is a built-in dataset name; choose another")
    if name in BUILTIN:
        return BUILTIN[name]
    if custom and name in custom:
        return custom_spec(name, custom[name])
    staged = staged_custom(data_root, name) if data_root is not None else None
    if staged is not None:
        return staged
    names = sorted(BUILTIN) + sorted(set(custom or {}) | set(staged_custom_names(data_root) if data_root else []))
    raise ConfigError(f"unknown dataset '{name}' (known: {', '.join(names)}; a dataset of your own is known once "
                      "`erbench data stage NAME --params FILE` staged it)")
