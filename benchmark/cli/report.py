"""`erbench report`: compare the runs below RUNS_DIRS and write tables, statistics and figures."""

from __future__ import annotations

from pathlib import Path

import click
from erbench import runfolder
from erbench.cli._common import console, friendly_errors, warn
from erbench.config import ConfigError
from erbench.errors import UserInputError
from erbench.params import Params, read_params


def _averages(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, avg = item.partition("=")
        if not sep or not name or avg not in ("micro", "macro"):
            raise ConfigError(f"--average: expected DATASET=micro or DATASET=macro, got {item!r}")
        out[name] = avg
    return out


@click.command()
@click.argument("runs_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True,
              help="Folder for results.tex/.md, stats.json and the figures.")
@click.option("--force", is_flag=True, help="Replace an existing report folder at OUT (never a folder erbench did "
                                           "not write as a report).")
@click.option("--baseline", "baselines", multiple=True,
              help="Method the others are compared to (repeatable); default: spert and spert_mt.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every resampling test.")
@click.option("--ar-trials", type=click.IntRange(min=0), default=10000, show_default=True,
              help="Approximate randomization trials (0: skip the sentence-level test).")
@click.option("--aso-bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="ASO bootstrap iterations (0: skip ASO; about 4 s per comparison at 1000).")
@click.option("--average", "averages", multiple=True, metavar="DATASET=micro|macro",
              help="Override a dataset's headline average (default: micro, ade=macro).")
@click.option("--title", default=None, help="First sentence of the caption and the Markdown heading.")
@click.option("--allow-mixed", is_flag=True, default=False,
              help="Put runs whose protocol differs (split, epochs, encoder, data sha256, ...) into one table anyway, "
                   "marked as mixed; without it such runs are refused, naming the key and the runs.")
@click.option("--allow-truncated", is_flag=True, default=False,
              help="Table runs whose evaluation split lost gold entities to truncation (long_documents=truncate) "
                   "anyway, listed in the warnings; without it such runs are refused.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Staged datasets (erbench data stage): the training splits of the seen/unseen "
                                      "split; skipped with a warning where a dataset is not staged.")
@click.option("--fold-test", type=click.Choice(["seed", "corrected"]), default="seed", show_default=True,
              help="k-fold datasets: average the folds of each seed and test per seed (the seed is the unit of "
                   "replication), or Nadeau & Bengio's corrected repeated-resampling t-test on (seed, fold) units. "
                   "With one seed there is nothing to test per seed, so the corrected test decides there either way "
                   "(the note says so).")
@click.option("--equivalence-margin", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True,
              help="F1 points: TOST splits 'not significant' into 'equivalent within ±margin' and 'inconclusive'.")
@click.option("--latex-comparisons", is_flag=True, default=False,
              help="results.tex also gets a table of Δ with its t interval, the Holm p, d_z and ASO epsilon_min.")
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Take exactly the runs of params.yaml's grid, ablations, choices and sweep (as dvc.yaml names "
                   "them), the saved records its report.records names, and the `report` section's settings as "
                   "defaults.")
@click.pass_context
@friendly_errors
def report(ctx, runs_dirs, out, force, baselines, alpha, seed, ar_trials, aso_bootstrap, averages, title, allow_mixed,
           allow_truncated, data_root, fold_test, equivalence_margin, latex_comparisons, params_path) -> None:
    """Compare methods over seeds (paired tests, Holm) and write LaTeX/Markdown/HTML reports, stats and figures."""
    from erbench.analysis.protocol import project_commit
    from erbench.files import check_output_folder
    from erbench.report import write_report_folder
    from erbench.report.latex import latex_label
    from erbench.report.tables import display_names

    dirs = list(runs_dirs) or [Path("runs")]
    custom = names = latex = None
    published = []
    label = latex_label(title) if title else None
    if params_path is not None:
        params = read_params(params_path)
        from erbench.models.registry import load_plugins

        load_plugins(params.plugins())  # a plugin method's display name and description
        settings = params.report
        source = click.core.ParameterSource.DEFAULT

        def pick(name: str, value):
            return getattr(settings, name) if ctx.get_parameter_source(name) == source else value

        alpha, seed = pick("alpha", alpha), pick("seed", seed)
        ar_trials, aso_bootstrap = pick("ar_trials", ar_trials), pick("aso_bootstrap", aso_bootstrap)
        fold_test, equivalence_margin = pick("fold_test", fold_test), pick("equivalence_margin", equivalence_margin)
        latex_comparisons = latex_comparisons or settings.latex_comparisons
        published = list(settings.published)
        baselines = tuple(baselines) or settings.baselines
        allow_mixed = allow_mixed or settings.allow_mixed
        custom = params.data.custom or None
        names = settings.display_names or None
        # the keys and names, before any work; a declared choice is one of the runs' methods
        display_names(sorted(params.choices.variants), names, f"{params_path}: report.display_names")
        latex = settings.latex.as_dict()
        if not title and params.suite:
            label = latex_label(params.suite)
        dirs = grid_run_dirs(params, dirs[0])
        if settings.records:  # saved run records of other suites (erbench results save), reused as they are
            from erbench.records import record_dirs

            dirs += record_dirs(settings.records, f"{params_path}: report.records")
    for folder in dirs:
        if not folder.exists():
            raise UserInputError(f"{folder}: no such folder of runs")
    check_output_folder(out, force=force, kind="report")
    check_names(dirs, baselines, _averages(averages))
    result = write_report_folder(out, dirs, baselines=tuple(baselines) or ("spert", "spert_mt"), alpha=alpha,
                                 seed=seed, aso_bootstrap=aso_bootstrap, ar_trials=ar_trials,
                                 metric_average=_averages(averages), title=title, allow_mixed=allow_mixed,
                                 data_root=data_root, custom=custom, git_commit=project_commit(),
                                 allow_truncated=allow_truncated, display_names=names, latex=latex,
                                 label=label, fold_test=fold_test, equivalence_margin=equivalence_margin,
                                 latex_comparisons=latex_comparisons, published=published)
    for sentence in result["answer"]:  # the report's answer first, on stdout: the command's output
        click.echo(sentence)
    for warning in result["warnings"]:
        warn(warning)
    console.print(f"wrote {len(result['files'])} files to {out}: {', '.join(result['files'])} "
                  f"({len(result['runs'])} runs)", highlight=False)


def check_names(dirs: list[Path], baselines: tuple[str, ...], averages: dict[str, str]) -> None:
    """--baseline and --average name a method and a dataset of the runs, else a one-line error."""
    from erbench.report.collect import collect_runs

    records = collect_runs(dirs)
    methods, datasets = sorted({r.method for r in records}), sorted({r.dataset for r in records})
    for name in baselines:
        if records and name not in methods:
            raise ConfigError(f"--baseline {name}: no run of method '{name}' below {', '.join(map(str, dirs))} "
                              f"(methods: {', '.join(methods)})")
    for name in averages:
        if records and name not in datasets:
            raise ConfigError(f"--average {name}={averages[name]}: no run of dataset '{name}' below "
                              f"{', '.join(map(str, dirs))} (datasets: {', '.join(datasets)})")


def grid_run_dirs(params: Params, root: Path) -> list[Path]:
    """The run folders of the params grid below `root`; a missing one is an error."""
    dirs = [root / name for name in params.run_folders()]
    missing = [str(p) for p in dirs if not (p / runfolder.METRICS).is_file()]
    if missing:
        raise UserInputError(f"{len(missing)} run(s) of the params grid have no metrics.json, e.g. {missing[0]}; "
                             "run `dvc repro` (or train them) first")
    return dirs
