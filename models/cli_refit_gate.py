"""``call-triage refit-gate``: refit a multimodal bundle's words models and calibrate its
verdict again, keep the network.

    call-triage refit-gate --bundle BUNDLE --archive DIR --out NEW_BUNDLE [--gate-l2 1.0]

What ``call-triage train`` does after its fit (:mod:`models.words`), for a bundle that is
already trained: the words models' logistic regressions are fitted on the train split of a labelled
archive (with the bundle's own vocabulary and feature configuration), the verdict is
calibrated on its validation split, the thresholds are
chosen again on its validation split, both held-out splits are measured, the bfloat16 check
is made again, and a bundle with a new version is written to ``--out`` (which may be a
local ``--bundle`` itself: it is replaced only once the new one is complete; a ``gs://``
bundle is uploaded file by file, so it must go to a new prefix). Every other weight,
the vocabulary, the feature configuration and the training record are kept; the model
card and ``bundle.json`` say which version was refitted, with what penalty, on which
archive. Use it to try another ``--gate-l2`` without training the network again (minutes,
not an hour), or to refit a bundle trained before the refit existed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import logging

from models.bundle import load_bundle, saved_metadata
from models.cli_train import (add_archive_arguments, add_gate_l2_argument, cache_dir,
                              label_mapping)
from models.evaluate import archive_windows, format_metrics
from models.evaluate import EMERGENCY_MIN_RECALL
from models.model_card import GATE_FIT_KEY
from models.precision import PRECISION_CHECKS_KEY, precision_check_record
from models.train import (measure_model, model_version, refit_model_words, weights_digest,
                          write_bundle)
from models.words import check_gate_l2
from transforms import spec
from transforms.errors import ConfigError

LOG = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", required=True, help="multimodal bundle folder (or gs://)")
    add_archive_arguments(parser)
    parser.add_argument("--out", required=True,
                        help="bundle folder to write (or gs://); a local --bundle may be "
                             "replaced in place")
    add_gate_l2_argument(parser)


def run_command(args: argparse.Namespace) -> int:
    check_gate_l2(args.gate_l2)
    if args.out.rstrip("/") == args.bundle.rstrip("/") and args.out.startswith("gs://"):
        raise ConfigError(f"--out {args.out!r} is --bundle: a gs:// bundle is uploaded file "
                          "by file, so write the refitted one to a new prefix")
    bundle = load_bundle(args.bundle)
    if spec.GATE_OUTPUT not in bundle.model.output_names:
        raise ConfigError(f"bundle {args.bundle!r} ({bundle.model_name}) has no n-gram gate "
                          "to refit")
    windows, n_failed = archive_windows(bundle, archive=args.archive,
                                        splits=("train", "validation", "test"),
                                        cache_dir=cache_dir(args), workers=args.workers,
                                        label_mapping=label_mapping(args))
    if n_failed:
        LOG.warning("%d calls of %s could not be featurised and are left out of the refit "
                    "and the figures", n_failed, args.archive)
    previous = bundle.model_version
    fit = refit_model_words(bundle.model, train=windows["train"],
                            validation=windows["validation"], l2=args.gate_l2)
    measured = measure_model(bundle, windows, recall_target=bundle.metadata.get(
        "training", {}).get("recall_target", EMERGENCY_MIN_RECALL))
    created = datetime.datetime.now(datetime.timezone.utc)
    version = model_version(created=created, digest=weights_digest(bundle.model))
    metadata = {
        **saved_metadata(bundle), "model_version": version,
        "created_at": created.isoformat(timespec="seconds"),
        GATE_FIT_KEY: {**fit, "archive": args.archive, "failed_calls": n_failed,
                       "refitted_from": previous},
        PRECISION_CHECKS_KEY: {"bfloat16": precision_check_record(
            measured.bfloat16_check, model_version=version, thresholds=measured.thresholds)},
    }
    metrics = {**bundle.metrics, **measured.metrics}
    write_bundle(dataclasses.replace(bundle, metadata=metadata, metrics=metrics,
                                     thresholds=measured.thresholds), out=args.out)
    print(format_metrics(measured.metrics["test"],
                         title=f"{bundle.model_name} {version} (gate refitted from "
                               f"{previous}): test split of {args.archive}"))
    return 0
