"""``call-triage compare``: train the four architectures on the same splits and compare.

    call-triage compare --archive /work/data/corpus2000 --out-dir out/compare \
        --epochs 8 --table benchmarks/compare_models.md

Features are extracted once (and cached); every model is fitted on the same train split,
gets its threshold on the same validation split and is measured on the same test split.
VGG-16 at 150×150 costs many times the CNN per window on a CPU, so by default it is fitted on a
random subset of the training windows for fewer epochs (``--vgg-train-windows``,
``--vgg-epochs``); the table's notes say so. Each model's bundle is written under
``--out-dir``, with the table (Markdown) and its rows (JSON).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
from typing import Any, Optional, Sequence

from models.builders import MODEL_BUILDERS, model_input_names
from models.cli_evaluate import write_json
from models.cli_train import (add_archive_arguments, add_fit_arguments, cache_dir, fit_options,
                              label_mapping)
from models.dataset import split_sizes
from models.train import (
    PreparedArchive,
    TrainedModel,
    TrainOptions,
    prepare_archive,
    train_model,
    write_bundle,
)
from transforms import spec
from transforms.errors import ConfigError

#: The seed's order: the three single-input models, then the final multimodal one.
COMPARED_MODELS = ("cnn_mel", "lstm_mfcc", "vgg16_transfer", "multimodal")
VGG = "vgg16_transfer"
#: Columns of the comparison table: (header, row key, format).
COLUMNS = (
    ("model", "model", "{}"),
    ("params", "parameters", "{:,}"),
    ("epochs (best)", "epochs", "{}"),
    ("train windows", "train_windows", "{:,}"),
    ("train loss", "train_loss", "{:.3f}"),
    ("train acc", "train_accuracy", "{:.3f}"),
    ("test loss", "test_loss", "{:.3f}"),
    ("test acc", "test_accuracy", "{:.3f}"),
    ("precision", "test_precision", "{:.3f}"),
    ("recall", "test_recall", "{:.3f}"),
    ("F1", "test_f1", "{:.3f}"),
    ("ROC AUC", "test_roc_auc", "{:.4f}"),
    ("category acc", "test_category_accuracy", "{:.3f}"),
    ("train time", "train_seconds", "{:.0f} s"),
    ("inference", "windows_per_second", "{:.0f} win/s"),
)


def model_options(name: str, *, base: TrainOptions, vgg_epochs: int,
                  vgg_train_windows: Optional[int]) -> TrainOptions:
    """``base``, with VGG-16's own (smaller) epochs and training-window budget."""
    if name != VGG:
        return dataclasses.replace(base, vgg_weights=None)
    return dataclasses.replace(base, epochs=min(base.epochs, vgg_epochs),
                               max_train_windows=vgg_train_windows)


def comparison_row(trained: TrainedModel) -> dict[str, Any]:
    """One table row of a trained model.

    Train loss/accuracy are Keras's logs of the emergency head at the kept epoch (window
    level, class-balanced, dropout on); test loss is the window-level binary cross-entropy
    of the emergency head; the other test figures are call-level at the model's
    validation-chosen threshold; inference counts scoring the test windows (batches of
    64, with per-call aggregation).
    """
    fit, test = trained.fit, trained.metrics["test"]
    best = fit.best_epoch - 1
    return {
        "model": trained.bundle.model_name,
        "parameters": int(fit.model.count_params()),
        "epochs": f"{fit.epochs_run} ({fit.best_epoch})",
        "train_windows": fit.train_windows,
        "train_loss": fit.history[f"{spec.EMERGENCY_OUTPUT}_loss"][best],
        "train_accuracy": fit.history[f"{spec.EMERGENCY_OUTPUT}_accuracy"][best],
        "test_loss": test["window_loss"],
        "test_accuracy": test["accuracy"],
        "test_precision": test["precision"],
        "test_recall": test["recall"],
        "test_f1": test["f1"],
        "test_roc_auc": test["roc_auc"],
        "test_category_accuracy": test["category"]["accuracy"],
        "threshold": trained.bundle.thresholds["emergency"],
        "train_seconds": fit.seconds,
        "windows_per_second": test["n_windows"] / trained.test_seconds,
        "model_version": trained.bundle.model_version,
    }


def _cell(value: Any, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a Markdown table with :data:`COLUMNS`."""
    lines = ["| " + " | ".join(header for header, _, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row[key], fmt) for _, key, fmt in COLUMNS) + " |"
              for row in rows]
    return "\n".join(lines)


def comparison_markdown(*, rows: Sequence[dict[str, Any]], prepared: PreparedArchive,
                        options: dict[str, TrainOptions], command: str) -> str:
    """The comparison as a Markdown document: setting, table and notes."""
    sizes = split_sizes(prepared.splits)
    split_text = "; ".join(
        f"{name} {size['calls']} calls / {size['windows']} windows "
        f"({size['emergency']} emergency, {size['normal']} normal, {size['prank']} prank)"
        for name, size in sizes.items())
    per_model = "; ".join(
        f"{name}: at most {option.epochs} epochs"
        + (f" on {option.max_train_windows} random training windows"
           if option.max_train_windows else "")
        for name, option in options.items())
    base = next(iter(options.values()))
    return f"""# Model comparison

Generated {datetime.date.today().isoformat()} by

    {command}

Archive `{prepared.archive}`: {split_text}.
All models: the same cached features and splits, seed {base.seed}, batch {base.batch_size},
Adam {base.learning_rate}, early stopping on the validation calls' emergency ROC AUC
(patience {base.patience}, best weights kept), balanced class weights on the emergency head,
transcript dropout {base.text_dropout} / token dropout {base.token_dropout} / transcript swap
{base.text_swap} (multimodal);
{per_model}.
Timed on {os.cpu_count()} CPU cores shared with other jobs: the times are indicative.

{markdown_table(rows)}

Notes:
- *train loss/acc*: Keras's logs of the emergency head at the kept epoch, per 7-s window
  (class-balanced, dropout on); *test loss*: binary cross-entropy of the emergency head per
  test window. Every other test figure is per **call** (windows pooled by max, as the
  nightly job does) at the model's emergency threshold, chosen on the validation split
  for recall ≥ 0.98; *category acc*: the 16-way category of emergency and normal calls.
- VGG-16 starts from random weights unless `--vgg-weights` gives a local ImageNet file (no
  download is possible here); at 150×150 it costs many times the CNN per window on a CPU, hence
  its smaller budget above.
- *inference*: test windows scored per second (batches of 64, with aggregation).
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_archive_arguments(parser)
    parser.add_argument("--out-dir", default=os.path.join("out", "compare"),
                        help="folder for the bundles, table and JSON (default: %(default)s)")
    parser.add_argument("--table", default=None,
                        help="also write the Markdown table here "
                             "(e.g. benchmarks/compare_models.md)")
    parser.add_argument("--models", nargs="+", default=list(COMPARED_MODELS),
                        choices=sorted(MODEL_BUILDERS), help="models to compare (default: all)")
    add_fit_arguments(parser)
    parser.add_argument("--vgg-epochs", type=int, default=2,
                        help="most epochs for vgg16_transfer (default: %(default)s)")
    parser.add_argument("--vgg-train-windows", type=int, default=400,
                        help="random training windows for vgg16_transfer (default: %(default)s)")


def _write_text(path: str, text: str) -> None:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error}") from error


def run_command(args: argparse.Namespace) -> int:
    base = fit_options(args)
    options = {name: model_options(name, base=base, vgg_epochs=args.vgg_epochs,
                                   vgg_train_windows=args.vgg_train_windows)
               for name in args.models}
    inputs = sorted({name for model in args.models for name in model_input_names(model)})
    prepared = prepare_archive(args.archive, config=spec.DEFAULT_FEATURES, input_names=inputs,
                               cache_dir=cache_dir(args), workers=args.workers,
                               label_mapping=label_mapping(args))
    rows = []
    for name, option in options.items():
        trained = train_model(prepared, model_name=name, options=option)
        write_bundle(trained.bundle, out=os.path.join(args.out_dir, name))
        rows.append(comparison_row(trained))
        print(markdown_table(rows[-1:]), flush=True)
    command = "call-triage compare " + " ".join(args.command_argv)
    text = comparison_markdown(rows=rows, prepared=prepared, options=options, command=command)
    print(text)
    _write_text(os.path.join(args.out_dir, "compare_models.md"), text)
    write_json(os.path.join(args.out_dir, "compare_models.json"), {"rows": rows})
    if args.table:
        _write_text(args.table, text)
    return 0
