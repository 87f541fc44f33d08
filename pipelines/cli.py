"""The ``call-triage`` command: one sub-command per job.

Each sub-command lives in its own module, imported only when chosen (so ``call-triage
synth`` does not load TensorFlow). A module offers ``configure_parser(parser)`` and
``run_command(args) -> int``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import importlib.metadata
import logging
import os
import sys
from typing import Iterator, Sequence

from pipelines import quiet
from transforms.errors import CallTriageError

#: sub-command -> (module, one-line help)
COMMANDS = {
    "synth": ("synth.cli", "generate a synthetic Korean emergency-call archive"),
    "train": ("models.cli_train", "train a model bundle on a labelled archive"),
    "evaluate": ("models.cli_evaluate", "evaluate a model bundle on an archive split"),
    "check-precision": ("models.cli_check_precision",
                        "check a bundle's scores in bfloat16 and record the result"),
    "refit-gate": ("models.cli_refit_gate",
                   "refit a multimodal bundle's words models and recalibrate its verdict"),
    "compare": ("models.cli_compare", "train and compare the four architectures"),
    "run": ("pipelines.triage", "the nightly triage job: score an archive, write reports"),
    "report": ("pipelines.night_report", "write a night's HTML report for analysts"),
    "review": ("pipelines.review", "export a night's review queue, import analysts' verdicts"),
}
#: Where a command's options are declared, when not in its module (which loads TensorFlow).
OPTION_MODULES = {"run": "pipelines.options"}
#: The commands that run a Beam pipeline: options they do not define go to Beam, which
#: must know them (``--runner``, ``--project``, ...). Every other command knows all its own.
BEAM_COMMANDS = ("run",)
#: Exit codes (README "Exit codes").
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_VERBOSE = ("-v", "--verbose")


def _command_module(name: str):
    return importlib.import_module(COMMANDS[name][0])


def _add_verbose(parser: argparse.ArgumentParser, *, default) -> None:
    parser.add_argument(*_VERBOSE, action="store_true", default=default,
                        help="debug logging, and the logs of Beam and TensorFlow")


def build_parser(argv: Sequence[str]
                 ) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each command's parser; only the command named in
    ``argv`` gets its options (importing its module)."""
    parser = argparse.ArgumentParser(prog="call-triage", description=__doc__.splitlines()[0],
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {importlib.metadata.version('call-triage')}")
    _add_verbose(parser, default=False)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if arg in COMMANDS), None)
    commands = {}
    for name, (_, help_text) in COMMANDS.items():
        sub = commands[name] = subparsers.add_parser(name, help=help_text, description=help_text,
                                                     allow_abbrev=False)
        _add_verbose(sub, default=argparse.SUPPRESS)  # -v after the command too
        if name == chosen:
            importlib.import_module(OPTION_MODULES.get(name, COMMANDS[name][0])
                                    ).configure_parser(sub)
    return parser, commands


def beam_options_unknown(argv: Sequence[str]) -> list[str]:
    """The options in ``argv`` that no Beam options class (ours included) defines."""
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(list(argv))
    known = options.get_all_options()
    unknown = set(options.get_all_options(retain_unknown_options=True)) - set(known)
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--")
            and arg[2:].split("=", 1)[0].replace("-", "_") in unknown]


def _unknown_message(unknown: Sequence[str], *, known: Sequence[str]) -> str:
    hints = []
    for option in unknown:
        close = difflib.get_close_matches(option, known, n=1)
        hints.append(option + (f" (did you mean {close[0]}?)" if close else ""))
    return "unknown option(s): " + ", ".join(hints)


def _known_flags(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes); set before it loads.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    verbose = any(arg in _VERBOSE for arg in argv)
    if not verbose:
        quiet.filter_stderr()
    try:
        return _main(argv)
    finally:
        quiet.restore_stderr()


def _main(argv: list[str]) -> int:
    parser, commands = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    command_parser = commands[args.command]
    if extra and args.command not in BEAM_COMMANDS:
        command_parser.error(_unknown_message(extra, known=_known_flags(command_parser)))
    args.command_argv = [arg for arg in argv[argv.index(args.command) + 1:]
                         if arg not in _VERBOSE]
    if args.command in BEAM_COMMANDS:
        unknown = beam_options_unknown(args.command_argv)
        if unknown:
            command_parser.error(_unknown_message(
                unknown, known=_known_flags(command_parser)))
    args.pipeline_args = [arg for arg in extra if arg not in _VERBOSE]
    if not args.verbose:
        # Beam and TensorFlow narrate every step at INFO; keep ours, theirs from WARNING.
        for noisy in ("apache_beam", "tensorflow", "absl", "jax"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    with _console_log(verbose=args.verbose):
        try:
            return _command_module(args.command).run_command(args)
        except CallTriageError as error:
            print(f"call-triage {args.command}: error: {error}", file=sys.stderr)
            return EXIT_USAGE


@contextlib.contextmanager
def _console_log(*, verbose: bool) -> Iterator[None]:
    """The command's log on stderr (debug with ``verbose``, else info without
    :class:`quiet.DropNoise`'s lines) as the root logger's only handler (the libraries the
    command loads may have set a default one), the previous ones back when it ends."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(quiet.DropNoise())
    root = logging.getLogger()
    previous_level, previous_handlers = root.level, root.handlers[:]
    for other in previous_handlers:
        root.removeHandler(other)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for other in previous_handlers:
            root.addHandler(other)
        root.setLevel(previous_level)


if __name__ == "__main__":
    sys.exit(main())
