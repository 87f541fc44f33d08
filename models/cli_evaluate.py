"""``call-triage evaluate``: call-level figures of a bundle on a split of a labelled archive.

    call-triage evaluate --bundle models/bundled/multimodal \
        --archive /work/data/corpus2000 --split test --out metrics.json
"""

from __future__ import annotations

import argparse
import json

from apache_beam.io.filesystems import FileSystems

from models.bundle import load_bundle, with_precision
from models.cli_train import add_archive_arguments, cache_dir, reject_unknown
from models.evaluate import evaluate_bundle, format_metrics
from models.precision import PRECISION_CHOICES, native_bfloat16, resolve_precision
from transforms import spec
from transforms.errors import ConfigError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", required=True, help="model bundle folder (or gs://)")
    add_archive_arguments(parser)
    parser.add_argument("--split", default="test", choices=spec.SPLITS + ("all",),
                        help="which calls to evaluate (default: %(default)s)")
    parser.add_argument("--out", default=None, help="write the metrics as JSON here")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="arithmetic of the model, chosen as the nightly job's "
                             "--inference_precision chooses it (default: %(default)s)")


def write_json(path: str, value: dict) -> None:
    """Write ``value`` as indented UTF-8 JSON to ``path`` (local or gs://)."""
    try:
        with FileSystems.create(path, mime_type="application/json") as handle:
            handle.write((json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode())
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error}") from error


def run_command(args: argparse.Namespace) -> int:
    reject_unknown(args)
    bundle = load_bundle(args.bundle)
    precision, reason = resolve_precision(args.precision, metadata=bundle.metadata,
                                          native=native_bfloat16())
    bundle = with_precision(bundle, precision)
    metrics = evaluate_bundle(bundle, archive=args.archive, split=args.split,
                              cache_dir=cache_dir(args), workers=args.workers)
    metrics["inference_precision"] = precision
    print(format_metrics(metrics, title=f"{bundle.model_name} {bundle.model_version} "
                                        f"({precision}, {reason}): {args.split} split of "
                                        f"{args.archive}"))
    if args.out:
        write_json(args.out, metrics)
    return 0
