"""Stage a dataset into `data/raw/NAME/`: copy from a mirror or download, verify sha256, validate.

Staging is atomic: files land in a temporary folder beside the target, are checked, and the
folder is renamed into place only when every file passed. A checksum mismatch, a missing file
or a failed download is an error naming the file; there is no silent fallback from a mirror
to the network or the other way round.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path

from erbench.datasets.load import DataError, Document, TypeInventory, load_documents, load_types
from erbench.datasets.registry import DatasetFile, DatasetSpec
from erbench.datasets.synthetic import SyntheticConfig, write_synthetic
from erbench.errors import ErbenchError
from erbench.files import make_temp_folder, replace_folder

MANIFEST = "STAGED.json"


class StageError(ErbenchError, RuntimeError):
    """Staging failed; the message names the file and the reason."""

    exit_code = 2


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _from_mirror(spec: DatasetSpec, file: DatasetFile, mirror: Path, into: Path) -> Path:
    candidates = [mirror / spec.name / file.name, mirror / file.name]
    for candidate in candidates:
        if candidate.is_file():
            shutil.copyfile(candidate, into / file.name)
            return candidate
    raise StageError(f"{file.name}: not found in mirror {mirror} (looked at {candidates[0]} and {candidates[1]})")


def _download(file: DatasetFile, into: Path) -> None:
    import pooch

    if not file.url:
        raise StageError(f"{file.name}: no canonical URL is known; give a mirror directory")
    try:
        pooch.retrieve(file.url, known_hash=f"sha256:{file.sha256}", fname=file.name, path=into, progressbar=False)
    except ValueError as exc:  # pooch's hash mismatch
        raise StageError(f"{file.name}: downloaded from {file.url} but its sha256 does not match: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any network failure is reported with the file and URL
        raise StageError(f"{file.name}: download from {file.url} failed: {type(exc).__name__}: {exc}") from None


def _verify(file: DatasetFile, path: Path) -> str:
    actual = sha256_of(path)
    if file.sha256 is not None and actual != file.sha256:
        raise StageError(
            f"{file.name}: sha256 mismatch (expected {file.sha256}, got {actual}); refusing a tampered or wrong copy"
        )
    return actual


def _validate(spec: DatasetSpec, folder: Path, labels: dict[str, str]) -> dict[str, int]:
    """Parse every split with the types file so a bad file fails the stage, not a later run; errors
    name the file the user gave (`labels`: staged name -> source path, mirror file or URL)."""
    types = load_types(folder / spec.types.name, labels.get(spec.types.name))
    return {split: len(load_documents(folder / f.name, types, labels.get(f.name))) for split, f in spec.splits.items()}


def stage_dataset(
    spec: DatasetSpec,
    data_root: Path,
    *,
    mirror: Path | None = None,
    synthetic: object | None = None,
) -> Path:
    """Stage `spec` into `data_root/raw/NAME` and return that folder.

    `mirror` is a local directory holding the files (as `MIRROR/NAME/FILE` or `MIRROR/FILE`);
    without it the canonical URLs are used. Custom datasets copy from their own paths;
    the synthetic corpus is generated from `synthetic` (a SyntheticConfig).
    """
    target = Path(data_root) / "raw" / spec.name
    created = [p for p in (Path(data_root), target.parent) if not p.exists()]  # removed again on failure
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_folder(target.parent, f".{spec.name}.staging-")
    labels: dict[str, str] = {}
    try:
        if spec.generated:
            write_synthetic(tmp / "gen", synthetic if synthetic is not None else SyntheticConfig())
            for f in spec.files:
                os.replace(tmp / "gen" / f.name, tmp / f.name)
            shutil.rmtree(tmp / "gen")
            origin = "generated"
        else:
            for f in spec.files:
                if f.source is not None:
                    src = Path(f.source)
                    if not src.is_file():
                        raise StageError(f"{src}: source file of {spec.name}'s {f.name} does not exist")
                    shutil.copyfile(src, tmp / f.name)
                    labels[f.name] = str(src)
                elif mirror is not None:
                    labels[f.name] = str(_from_mirror(spec, f, Path(mirror), tmp))
                else:
                    _download(f, tmp)
                    labels[f.name] = f"{f.name} (downloaded from {f.url})"
            if all(f.source is not None for f in spec.files):
                origin = "local files (params data.custom)"
            else:
                origin = str(mirror) if mirror is not None else "canonical URLs"
        hashes = {f.name: _verify(f, tmp / f.name) for f in spec.files}
        try:
            counts = _validate(spec, tmp, labels)
        except DataError as exc:
            raise StageError(str(exc)) from None
        manifest = {"dataset": spec.name, "origin": origin, "sha256": hashes, "documents": counts}
        if spec.custom is not None:  # what later commands need to know the dataset without params
            manifest["custom"] = {**spec.custom, "sources": {n: labels[n] for n in sorted(labels)}}
        if spec.generated and synthetic is not None:
            import dataclasses

            manifest["synthetic"] = dataclasses.asdict(synthetic)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        replace_folder(tmp, target)  # the previous copy is put back if the swap fails
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(created):  # leave the data root as it was
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return target


class StaleDataError(StageError):
    """A user's source file changed after it was staged: the staged copy is not the data they now have."""


_SOURCE_SHA: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256: one hash per file version


def _source_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _SOURCE_SHA:
        _SOURCE_SHA[key] = sha256_of(path)
    return _SOURCE_SHA[key]


def check_sources(data_root: Path, name: str, manifest: dict) -> None:
    """Refuse a staged copy of a user's dataset whose source file (params data.custom, recorded in
    STAGED.json `custom.sources`) no longer has the sha256 it was staged with. A source that no longer
    exists is not checked (the staged copy is then the only record, e.g. a data/raw copied to a cluster
    node). Built-in datasets have no such source: staging accepts only the file with the registry's
    sha256, from a mirror or the canonical URL, so the registry is their source and a staged copy always
    matches it; the generated corpus is a function of params data.synthetic, which DVC tracks."""
    sources = (manifest.get("custom") or {}).get("sources") or {}
    for staged_name, source in sorted(sources.items()):
        path = Path(source)
        recorded = (manifest.get("sha256") or {}).get(staged_name)
        if recorded is None or not path.is_file():
            continue
        if _source_sha256(path) != recorded:
            folder = Path(data_root) / "raw" / name
            root = "" if Path(data_root) == Path("data") else f" --data-root {data_root}"
            raise StaleDataError(f"{source}: changed since it was staged into {folder} (sha256 {recorded[:12]} "
                                 f"-> {_source_sha256(path)[:12]}); re-stage it with `erbench data stage {name}{root}`")


def staged_manifest(data_root: Path, name: str) -> dict:
    """The STAGED.json of a staged dataset; refuses one whose user source file changed (check_sources)."""
    path = Path(data_root) / "raw" / name / MANIFEST
    if not path.is_file():
        folder = Path(data_root) / "raw" / name
        raise StageError(f"dataset {name}: not staged under {folder}; run `erbench data stage {name}`")
    manifest = json.loads(path.read_text())
    check_sources(data_root, name, manifest)
    return manifest


def load_split(data_root: Path, spec: DatasetSpec, split_key: str) -> tuple[list[Document], TypeInventory]:
    """Load one staged split with its types, validated."""
    staged_manifest(data_root, spec.name)
    folder = Path(data_root) / "raw" / spec.name
    types = load_types(folder / spec.types.name)
    return load_documents(folder / spec.splits[split_key].name, types), types
