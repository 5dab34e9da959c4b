"""One run end to end: staged data -> training -> evaluation -> run folder (+ tracking hook).

What the run folder holds, and how it is written and read: erbench.runfolder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch
from erbench import environment, runfolder, scoring
from erbench.config import ConfigError, ModelOptions, RunConfig, TrainOptions, from_dict
from erbench.datasets.load import Document, TypeInventory, parse_types
from erbench.datasets.registry import resolve
from erbench.datasets.stage import load_split, staged_manifest
from erbench.models.encoder import EncodingReport, encode_documents, encoder_max_length, load_encoder
from erbench.models.registry import interpretation, load_files, plugin_digest
from erbench.models.spert import SpanRelationModel
from erbench.progress import Progress
from erbench.train import (
    RunData,
    peak_rss_mb,
    pick_device,
    prediction_records,
    state_dict_for_saving,
    train_model,
)


def summary(result: dict, split: str) -> dict:
    """NER / RE / RE+ micro and macro F1 on the evaluation split, and the run's time: a few columns per run."""
    out = {f"{setting}_{avg}_f1": result["metrics"].get(f"{split}/{key}/{avg}_f1")
           for setting, key in (("ner", "ner"), ("re", "rel"), ("re_strict", "rel_strict"))
           for avg in ("micro", "macro")}
    timing = result.get("timing") or {}
    out["train_min"] = round(timing["train_seconds"] / 60, 3) if timing.get("train_seconds") is not None else None
    out["eval_s"] = round(timing["eval_seconds"], 2) if timing.get("eval_seconds") is not None else None
    return out


def run_identity(cfg: RunConfig) -> dict:
    """metrics.json's `run`: the method id tables use (a choice's name), the registry method behind it."""
    out = {"name": cfg.run_name, "dataset": cfg.dataset, "method": cfg.run_method, "seed": cfg.seed, "fold": cfg.fold}
    if cfg.choice:
        out.update({"base_method": cfg.method, "choice": cfg.choice, "choice_set": cfg.choice_set or {}})
    return out


def load_run_data(cfg: RunConfig, data_root: Path, custom: dict | None = None) -> RunData:
    spec = resolve(cfg.dataset, custom, data_root)
    train, types = load_split(data_root, spec, spec.split_key(cfg.train_split, cfg.fold))
    evaluation, _ = load_split(data_root, spec, spec.split_key(cfg.eval_split, cfg.fold))
    dev = None
    if cfg.dev_split and (cfg.train.eval_dev_every_epoch or cfg.train.thresholds == "dev"):
        dev, _ = load_split(data_root, spec, spec.split_key(cfg.dev_split, cfg.fold))
    manifest = staged_manifest(data_root, spec.name)
    names = {spec.splits[spec.split_key(s, cfg.fold)].name for s in (cfg.train_split, cfg.eval_split)}
    sha = {n: manifest["sha256"][n] for n in sorted(names)}
    return RunData(types, train, evaluation, dev, sha)


def protocol(cfg: RunConfig) -> dict:
    """The settings that make two runs comparable (or not); logged with every run."""
    return {
        "dataset": cfg.dataset, "fold": cfg.fold, "train_split": cfg.train_split, "eval_split": cfg.eval_split,
        "no_overlapping": cfg.no_overlapping, "encoder": cfg.train.encoder, "epochs": cfg.train.epochs,
        "selected_epoch": "last", "batch_size": cfg.train.batch_size, "lr": cfg.train.lr,
        "optimizer": cfg.train.optimizer,
        "max_span_size": cfg.model.max_span_size, "neg_entity_count": cfg.model.neg_entity_count,
        "neg_relation_count": cfg.model.neg_relation_count,
        "interpretation": interpretation(cfg.method, cfg.model),
        "thresholds": cfg.train.thresholds, "choice": cfg.choice,
        **({"base_method": cfg.method, "choice_set": cfg.choice_set or {}} if cfg.choice else {}),
    }


def _has_overlaps(docs: list[Document]) -> bool:
    for doc in docs:
        spans = sorted(e.span for e in doc.entities)
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
            return True
    return False


def score_predictions(gold: list[Document], pred: list[Document], types: TypeInventory, cfg: RunConfig) -> dict:
    """Metrics under `<split>/...` in the run's `no_overlapping` setting.

    Where the gold data has overlapping entities (ADE, SciERC), the other setting is scored too,
    under `<split>_no_overlap/...` or `<split>_keep_overlap/...`: the literature reports ADE both
    ways (SPEC 3), so both numbers are in every run.
    """
    metrics = scoring.flatten_metrics(scoring.score(gold, pred, types, no_overlapping=cfg.no_overlapping),
                                      cfg.eval_split)
    if _has_overlaps(gold):
        other = not cfg.no_overlapping
        prefix = f"{cfg.eval_split}_{'no_overlap' if other else 'keep_overlap'}"
        metrics.update(scoring.flatten_metrics(scoring.score(gold, pred, types, no_overlapping=other), prefix))
    return metrics


def threshold_split_check(cfg: RunConfig, data: RunData, data_root: Path, custom: dict | None,
                          option: str = "train option thresholds: dev") -> str | None:
    """Refuse `thresholds: dev` on an absent dev split, the test split (by name or content), a dev split
    inside the train split, or the eval split without thresholds_same_split; -> a warning line or None."""
    from erbench.calibrate import check_dev_split, check_not_in_train

    spec = resolve(cfg.dataset, custom, data_root)
    sha = staged_manifest(data_root, spec.name)["sha256"]

    def digest(split: str | None) -> str | None:
        key = spec.split_key(split, cfg.fold) if split else None
        return sha.get(spec.splits[key].name) if key in spec.splits else None

    try:
        test_sha = digest("test")
    except ConfigError:  # a custom dataset without a test split
        test_sha = None
    warning = check_dev_split(option, cfg.dev_split, cfg.eval_split, allow_same_split=cfg.train.thresholds_same_split,
                              dev_sha=digest(cfg.dev_split), test_sha=test_sha)
    check_not_in_train(option, data.dev or [], data.train, cfg.dev_split, cfg.train_split)
    return warning


def tune_thresholds(model: SpanRelationModel, tokenizer, dev: list[Document], types: TypeInventory, cfg: RunConfig,
                    max_length: int, device: torch.device, custom_declaration: dict | None = None,
                    spec: tuple[float, float] | None = None) -> dict:
    """Choose entity_threshold and rel_filter_threshold on `dev` (erbench.calibrate.search); the model's
    options are left as they are. -> the search's record (chosen values, SPEC values, every grid score)."""
    from erbench import calibrate

    dev_enc, _ = encode_documents(tokenizer, dev, max_length, cfg.train.long_documents)
    cache = calibrate.score_split(model, dev_enc, tokenizer.pad_token_id, device, cfg.train.eval_batch_size,
                                  cfg.train.precision, entity_grid=calibrate.GRID)
    setting, average = calibrate.headline(cfg.dataset, custom_declaration)
    spec = spec or (model.options.entity_threshold, model.options.rel_filter_threshold)
    found = calibrate.search(cache, dev, types, spec=spec, setting=setting, average=average,
                             no_overlapping=cfg.no_overlapping)
    return {"mode": "dev", "dev_split": cfg.dev_split, **found}


def decode_eval(model: SpanRelationModel, encoded: list, pad_id: int, device: torch.device, cfg: RunConfig,
                gold: list[Document], progress: Progress | None = None) -> tuple[list[Document], dict]:
    """The eval split's predictions at the model's thresholds, and the entity-score diagnostics of the
    same forward pass (erbench.calibrate.span_diagnostics)."""
    from erbench import calibrate

    cache = calibrate.score_split(model, encoded, pad_id, device, cfg.train.eval_batch_size, cfg.train.precision,
                                  progress=progress)
    predictions = cache.decode(model.options.entity_threshold, model.options.rel_filter_threshold)
    return predictions, calibrate.span_diagnostics(cache, gold)


def spec_thresholds(cfg: RunConfig) -> dict:
    return {"mode": "spec", "entity": cfg.model.entity_threshold, "relation": cfg.model.rel_filter_threshold}


def execute_run(cfg: RunConfig, data_root: Path, out_dir: Path, *, custom: dict | None = None,
                progress: Progress | None = None, on_epoch: Callable[[int, dict], None] | None = None,
                encoder=None, force: bool = False, resume: bool | None = None, resume_dir: Path | None = None,
                say=print) -> dict:
    """Train and evaluate one run, write its folder atomically, and return metrics.json's content.

    `resume`: True continues an interrupted training of the same run from its last epoch and saves
    the state after each epoch (erbench.resume; `erbench train` does, unless --no-resume); False
    ignores and replaces a saved state; None saves and uses none. The state lives in `resume_dir`
    (default: resume.state_folder(out_dir)). `say` prints the resume lines.
    """
    from erbench import resume as resuming

    data = load_run_data(cfg, data_root, custom)
    same_split = None
    if cfg.train.thresholds == "dev":  # before the training, not after it
        same_split = threshold_split_check(cfg, data, data_root, custom)
    device = pick_device(cfg.train.device)
    resumer = None
    if resume is not None:
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)  # as the training sets it: the fingerprint records it
        mark = resuming.fingerprint(cfg.to_dict(), data.sha256, str(device), tuple(cfg.methods_include))
        resumer = resuming.Resumer(resume_dir or resuming.state_folder(out_dir), mark, enabled=resume, say=say)
    model, tokenizer, history, info = train_model(cfg, data, progress=progress, on_epoch=on_epoch, encoder=encoder,
                                                  resume=resumer)
    thresholds = spec_thresholds(cfg)
    if cfg.train.thresholds == "dev":
        declaration = resolve(cfg.dataset, custom, data_root).custom
        thresholds = tune_thresholds(model, tokenizer, data.dev, data.types, cfg, info["max_length"], device,
                                     declaration)
        model.options = replace(model.options, entity_threshold=thresholds["entity"],
                                rel_filter_threshold=thresholds["relation"])
        thresholds["same_split"] = bool(same_split)
    eval_enc, eval_report = encode_documents(tokenizer, data.eval, info["max_length"], cfg.train.long_documents)
    import time

    start = time.perf_counter()
    predictions, diagnostics = decode_eval(model, eval_enc, tokenizer.pad_token_id, device, cfg, data.eval,
                                           progress)
    eval_seconds = time.perf_counter() - start
    metrics = score_predictions(data.eval, predictions, data.types, cfg)
    timing = {
        "seconds_per_epoch": info["seconds_per_epoch"], "train_seconds": info["train_seconds"],
        "train_sentences_per_s": info["train_sentences_per_s"], "eval_seconds": eval_seconds,
        "eval_sentences_per_s": len(eval_enc) / eval_seconds if eval_seconds else float("nan"),
        "resumed_after_epochs": info["resumed_after_epochs"],  # an interrupted training continued (erbench.resume)
        "peak_rss_mb": peak_rss_mb(),
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    }
    encoding = {f"train:{cfg.train_split}": info["train_encoding"], f"eval:{cfg.eval_split}": asdict(eval_report)}
    if info.get("dev_encoding"):
        encoding[f"dev:{cfg.dev_split}"] = info["dev_encoding"]
    warnings = [w for part, r in encoding.items() if (w := EncodingReport(**r).warning(part.split(":")[1]))]
    if same_split:
        warnings.append(same_split)
    from erbench.calibrate import edge_warning

    if thresholds["mode"] == "dev" and (edge := edge_warning(thresholds)):
        warnings.append(edge)
    env = environment.capture(info["device"])
    result = {
        "run": run_identity(cfg),
        "protocol": protocol(cfg),
        "thresholds": thresholds,
        "diagnostics": {"entity_scores": {"split": cfg.eval_split, **diagnostics}},
        "metrics": metrics,
        "timing": timing,
        "history": history,
        "data": {"sha256": data.sha256, "train_encoding": info["train_encoding"],
                 "eval_encoding": asdict(eval_report), "encoding": encoding, "long_documents": cfg.train.long_documents,
                 "class_counts": info["class_counts"], "class_weights": info["class_weights"]},
        "environment": {k: v for k, v in env.items() if k != "packages"},
        "warnings": warnings,  # what the run cut or skipped, one line each (printed, logged, in the report)
    }
    decoded = replace(cfg, model=model.options)  # the thresholds the eval split was decoded with
    config = {"run": decoded.to_dict(), "types": data.types.to_json(), "max_length": info["max_length"],
              "thresholds": {k: v for k, v in thresholds.items() if k != "dev_scores"},
              "plugins": plugin_digest({"methods_include": list(cfg.methods_include)})["methods_include"]}
    weights = state_dict_for_saving(model) if cfg.train.save_weights else None
    runfolder.write_run_folder(out_dir, metrics=result, config=config,
                               predictions=prediction_records(data.eval, predictions), steps=info["steps_log"],
                               environment=env, summary=summary(result, cfg.eval_split), weights=weights, force=force)
    if resumer:
        resumer.clear()
    return result


def load_run_plugins(cfg: RunConfig, recorded: list[dict], where: Path) -> None:
    """Import the methods_include files a run was trained with (a missing one is a ConfigError naming
    it); a file whose content changed since is loaded with a warning naming it."""
    import hashlib
    import warnings

    load_files(cfg.methods_include, source=f"{where}: run.methods_include")
    for entry in recorded:
        path = Path(entry["path"])
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            warnings.warn(f"{where}: plugin file {path} changed since the run was trained (sha256 "
                          f"{entry['sha256'][:12]}...); loaded as it is now", stacklevel=2)


def recorded_cb_offsets(run_dir: Path) -> dict | None:
    """What `cb_decision: corrected` subtracts (erbench.models.decision.cb_offsets), from the class counts
    and weights the run's metrics.json records; None for a run without class weights."""
    from erbench.models.decision import cb_offsets

    path = Path(run_dir) / runfolder.METRICS
    data = (runfolder.read_metrics(run_dir).get("data") or {}) if path.is_file() else {}
    if not data.get("class_weights") or not data.get("class_counts"):
        return None
    return cb_offsets(data["class_counts"], data["class_weights"])


def load_checkpoint(run_dir: Path, device: str = "auto"):
    """(model, tokenizer, RunConfig, types, max_length) from a run folder's config.json + weights."""
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    weights = runfolder.weights_path(run_dir)
    config, where = runfolder.read_config(run_dir), run_dir / runfolder.CONFIG
    raw = dict(config["run"])
    raw["model"] = from_dict(ModelOptions, raw["model"], f"{where}: model")
    raw["train"] = from_dict(TrainOptions, raw["train"], f"{where}: train")
    cfg = from_dict(RunConfig, raw, str(where))
    cfg = replace(cfg, methods_include=tuple(cfg.methods_include))
    load_run_plugins(cfg, config.get("plugins") or [], where)
    types = parse_types(config["types"], f"{where}: types")
    transformer, tokenizer = load_encoder(cfg.train.encoder, seed=cfg.seed)
    model = SpanRelationModel(transformer, types, cfg.model)
    model.load_state_dict(load_file(str(weights)))
    model.cb_offsets = recorded_cb_offsets(run_dir)
    target = pick_device(device)
    model.to(target).eval()
    max_len = config.get("max_length") or encoder_max_length(transformer, tokenizer)
    return model, tokenizer, cfg, types, max_len
