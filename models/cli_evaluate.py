"""``call-triage evaluate``: call-level figures of a bundle on a split of a labelled archive,
with the calls it gets wrong, the category confusion matrix and ROC/PR curves.

    call-triage evaluate --bundle models/bundled/multimodal \
        --archive /work/data/corpus2000 --split test --out metrics.json
    call-triage evaluate --archive ../shared/devset/archive \
        --labels ../shared/devset/labels.csv --split all --plots out/devset-plots
"""

from __future__ import annotations

import argparse
import json
import os

from apache_beam.io.filesystems import FileSystems

from models import DEFAULT_BUNDLE
from models.bundle import load_bundle
from models.serving import with_precision
from models.cli_train import add_archive_arguments, cache_dir, label_mapping
from models.dataset import read_labels
from models.evaluate import evaluate_bundle, format_errors, format_metrics
from models.plots import curve_svgs
from models.precision import PRECISION_CHOICES, native_bfloat16, resolve_precision
from transforms import spec
from transforms.errors import ConfigError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", default=DEFAULT_BUNDLE,
                        help="model bundle folder or gs:// prefix (default: the bundled model)")
    add_archive_arguments(parser)
    parser.add_argument("--labels", default=None,
                        help="CSV of labels (call_id, label, optional category, split, "
                             "event_start_s, event_end_s) replacing the archive's own; "
                             "calls it does not name are left out")
    parser.add_argument("--split", default="test", choices=spec.SPLITS + ("all",),
                        help="which calls to evaluate (default: %(default)s)")
    parser.add_argument("--out", default=None,
                        help="write the metrics, error lists and curves as JSON here")
    parser.add_argument("--plots", default=None,
                        help="folder to write roc.svg and pr.svg of the emergency score")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="arithmetic of the model, chosen as the nightly job's "
                             "--inference_precision chooses it (default: %(default)s)")


def write_text(path: str, text: str, *, mime_type: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` (local or gs://; local folders are created)."""
    try:
        if "://" not in path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with FileSystems.create(path, mime_type=mime_type) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error}") from error


def write_json(path: str, value: dict) -> None:
    """Write ``value`` as indented UTF-8 JSON to ``path`` (local or gs://)."""
    write_text(path, json.dumps(value, ensure_ascii=False, indent=2) + "\n",
               mime_type="application/json")


def run_command(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.bundle)
    precision, reason = resolve_precision(args.precision, metadata=bundle.metadata,
                                          native=native_bfloat16())
    bundle = with_precision(bundle, precision)
    labels = None if args.labels is None else read_labels(args.labels)
    metrics = evaluate_bundle(bundle, archive=args.archive, split=args.split,
                              cache_dir=cache_dir(args), workers=args.workers, labels=labels,
                              label_mapping=label_mapping(args))
    metrics["inference_precision"] = precision
    print(format_metrics(metrics, title=f"{bundle.model_name} {bundle.model_version} "
                                        f"({precision}, {reason}): {args.split} split of "
                                        f"{args.archive}"))
    print(format_errors(metrics))
    if args.out:
        write_json(args.out, metrics)
    if args.plots and metrics["curves"] is not None:
        figures = curve_svgs(metrics["curves"], title=f"{args.split} split",
                             threshold=metrics["threshold"])
        for name, svg in figures.items():
            write_text(FileSystems.join(args.plots, name), svg, mime_type="image/svg+xml")
    return 0
