"""``call-triage check-precision``: may this bundle score in bfloat16?

    call-triage check-precision --bundle models/bundled/multimodal \
        --archive /work/data/corpus2000 --split validation

Scores one split of a labelled archive in float32 and in bfloat16, prints how far the
call scores moved and how many decisions changed (emergency and prank at the bundle's
thresholds, top category), and records that in the bundle's ``bundle.json``
(``precision_checks``, for this model version and these thresholds), where
``--inference_precision auto`` reads it. ``call-triage train`` records the same check on
its validation split. The decisions compared are the bundle's thresholds (the emergency
flag; the prank head at the bundle's prank threshold); the job's prank-candidate rules use
their own run-time thresholds (``--model_min`` …) and are not part of the check.
"""

from __future__ import annotations

import argparse

from models.bundle import load_bundle, record_precision_check
from models.cli_train import add_archive_arguments, cache_dir, label_mapping
from models.evaluate import format_precision_check, precision_check, split_windows
from models.precision import native_bfloat16
from transforms import spec


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", required=True, help="model bundle folder (or gs://)")
    add_archive_arguments(parser)
    parser.add_argument("--split", default="validation", choices=spec.SPLITS + ("all",),
                        help="which calls to check on (default: %(default)s, the split the "
                             "thresholds were chosen on)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the check without recording it in the bundle")


def run_command(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.bundle)
    windows, _ = split_windows(bundle, archive=args.archive, split=args.split,
                               cache_dir=cache_dir(args), workers=args.workers,
                               label_mapping=label_mapping(args))
    check = precision_check(bundle, windows, split=args.split)
    print(f"{bundle.model_name} {bundle.model_version}, {check['precision']} against float32 "
          f"on the {check['split']} split ({check['calls']} calls, {check['windows']} "
          f"windows):\n  {format_precision_check(check)}")
    if native_bfloat16() is False:
        print("  this CPU emulates bfloat16: the check holds, but scoring in it is slower here")
    if not args.dry_run:
        record_precision_check(args.bundle, {**check, "archive": args.archive})
        print(f"recorded in {args.bundle}")
    return 0
