"""``call-triage train``: fit one architecture on a labelled archive and write a bundle.

    call-triage train --archive /work/data/corpus2000 --model multimodal \
        --out models/bundled/multimodal --seed 1
"""

from __future__ import annotations

import argparse
from typing import Any
import os

from models.builders import AUDIO_POOLINGS, DEFAULT_AUDIO_POOLING, DEFAULT_MODEL, MODEL_BUILDERS
from models.train import TrainOptions, train_bundle
from transforms.aihub import LabelMapping

#: Where extracted features are cached unless --cache-dir or --no-cache says otherwise.
DEFAULT_CACHE_DIR = os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "call-triage", "features")


def add_archive_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every model command shares: the archive, the feature cache, workers."""
    parser.add_argument("--archive", required=True,
                        help="labelled archive folder or gs:// prefix (docs/archive.md)")
    parser.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR,
                        help="folder of cached features (default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true",
                        help="extract features without reading or writing the cache")
    parser.add_argument("--workers", type=int, default=None,
                        help="feature-extraction processes (default: one per CPU)")
    parser.add_argument("--aihub-labels", default=None, metavar="MAPPING.toml",
                        help="how AI Hub 119-call labels (disasterLarge, disasterMedium) "
                             "become labels and categories: an edited copy of the shipped "
                             "transforms/data/aihub_labels.toml (default: that file)")


def cache_dir(args: argparse.Namespace) -> str | None:
    """The feature cache folder the arguments ask for, or None."""
    return None if args.no_cache else args.cache_dir


def label_mapping(args: argparse.Namespace) -> LabelMapping:
    """The AI Hub label mapping the arguments ask for (ConfigError for a bad file)."""
    return LabelMapping.load(args.aihub_labels)


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of :class:`TrainOptions` shared by train and compare."""
    defaults = TrainOptions()
    parser.add_argument("--recall-target", type=float, default=defaults.recall_target,
                        help="validation recall of emergencies the emergency threshold keeps "
                             "(default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs,
                        help="most epochs to fit (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="windows per step (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="random seed of weights, shuffling, subsampling "
                             "(default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                        help="Adam's learning rate (default: %(default)s)")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="epochs without a higher validation call-level ROC AUC "
                             "before stopping (default: %(default)s)")
    parser.add_argument("--text-dropout", type=float, default=defaults.text_dropout,
                        help="share of training windows whose transcript is blanked each "
                             "epoch (default: %(default)s)")
    parser.add_argument("--token-dropout", type=float, default=defaults.token_dropout,
                        help="share of training tokens replaced by <oov> (default: %(default)s)")
    parser.add_argument("--text-swap", type=float, default=defaults.text_swap,
                        help="share of training windows given another window's transcript "
                             "each epoch; the targets follow the new pair of sound and "
                             "words (multimodal; default: %(default)s)")
    parser.add_argument("--no-time-shift", dest="time_shift", action="store_false",
                        help="do not roll training log-mel windows in time (default: roll "
                             "each by a random number of frames every epoch)")
    parser.add_argument("--vgg-weights", default=None,
                        help="local ImageNet VGG-16 (no top) weights file for vgg16_transfer "
                             "(default: random init)")
    add_gate_l2_argument(parser)


def add_gate_l2_argument(parser: argparse.ArgumentParser) -> None:
    """``--gate-l2``, the L2 penalty of the words models' refit (train, compare,
    refit-gate)."""
    parser.add_argument("--gate-l2", type=float, default=TrainOptions().gate_l2,
                        help="L2 penalty of the logistic regressions that refit the "
                             "multimodal model's words models (gate, prank, category) on the "
                             "training transcripts after the fit (default: %(default)s)")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_archive_arguments(parser)
    parser.add_argument("--model", default=None, choices=sorted(MODEL_BUILDERS),
                        help=f"architecture (default: {DEFAULT_MODEL}, or --from's)")
    parser.add_argument("--from", dest="start_from", default=None, metavar="BUNDLE",
                        help="fine-tune this bundle: start from its weights, vocabulary "
                             "(words it lacks stay unknown) and feature config, for a "
                             "centre with few labelled calls")
    parser.add_argument("--out", required=True, help="bundle folder to write (or gs://)")
    parser.add_argument("--reviewed", action="append", default=[], metavar="REPORTS",
                        help="a report root of the nightly job (its --out): add the calls "
                             "analysts labelled there (`call-triage review import`, every "
                             "night) to the train split; the validation and test splits "
                             "stay the archive's own, so the figures stay comparable. "
                             "Repeatable (docs/review.md)")
    add_fit_arguments(parser)
    parser.add_argument("--max-train-windows", type=int, default=None,
                        help="fit on a random subset of this many training windows")
    parser.add_argument("--logdir", default=None, help="TensorBoard log folder")
    parser.add_argument("--audio-pooling", default=None, choices=AUDIO_POOLINGS,
                        help="how the CNN audio branch (cnn_mel, multimodal) joins its maps "
                             "to its Dense layer: 'flatten' (the seed's) or 'time' (max and "
                             "mean over time) (default: the model's, "
                             f"{DEFAULT_AUDIO_POOLING})")


def fit_options(args: argparse.Namespace, **more: Any) -> TrainOptions:
    """The :class:`TrainOptions` of the options :func:`add_fit_arguments` declares, and
    ``more``."""
    return TrainOptions(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        learning_rate=args.learning_rate, patience=args.patience,
        text_dropout=args.text_dropout, token_dropout=args.token_dropout,
        text_swap=args.text_swap, time_shift=args.time_shift, vgg_weights=args.vgg_weights,
        gate_l2=args.gate_l2, recall_target=args.recall_target, **more)


def run_command(args: argparse.Namespace) -> int:
    options = fit_options(args, max_train_windows=args.max_train_windows,
                          logdir=args.logdir, audio_pooling=args.audio_pooling)
    train_bundle(archive=args.archive, model_name=args.model, out=args.out, options=options,
                 cache_dir=cache_dir(args), workers=args.workers, reviewed=args.reviewed,
                 label_mapping=label_mapping(args),
                 start_from=args.start_from)
    return 0
