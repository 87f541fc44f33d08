"""The ``call-triage`` command: one sub-command per job.

Each sub-command lives in its own module, imported only when chosen (so ``call-triage
synth`` does not load TensorFlow). A module offers ``configure_parser(parser)`` and
``run_command(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from transforms.errors import CallTriageError

#: sub-command -> (module, one-line help)
COMMANDS = {
    "features": ("pipelines.features", "extract training features from an archive"),
    "synth": ("synth.cli", "generate a synthetic Korean emergency-call archive"),
    "train": ("models.cli_train", "train a model bundle on a labelled archive"),
    "evaluate": ("models.cli_evaluate", "evaluate a model bundle on an archive split"),
    "check-precision": ("models.cli_check_precision",
                        "check a bundle's scores in bfloat16 and record the result"),
    "refit-gate": ("models.cli_refit_gate",
                   "refit a multimodal bundle's n-gram gate on a labelled archive"),
    "compare": ("models.cli_compare", "train and compare the four architectures"),
    "run": ("pipelines.triage", "the nightly triage job: score an archive, write reports"),
}


def _command_module(name: str):
    return importlib.import_module(COMMANDS[name][0])


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="call-triage", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if arg in COMMANDS), None)
    for name, (_, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            _command_module(name).configure_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes); set before it loads.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    args.pipeline_args = extra
    args.command_argv = argv[argv.index(args.command) + 1:]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        # Beam and TensorFlow narrate every step at INFO; keep ours, theirs from WARNING.
        for noisy in ("apache_beam", "tensorflow", "absl", "jax"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return _command_module(args.command).run_command(args)
    except CallTriageError as error:
        print(f"call-triage {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
