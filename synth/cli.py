"""``call-triage synth``: generate a synthetic Korean emergency-call archive.

    call-triage synth --out DIR --calls N --seed S [--workers W] [--example] [--layout aihub]

writes ``DIR/audio/*`` and ``DIR/manifest.csv``, or the AI Hub layouts (see
synth/README.md). The same arguments give byte-identical files, whatever ``--workers``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

from synth import corpus

LOGGER = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Adds the ``synth`` options to ``parser``."""
    parser.add_argument("--out", required=True, help="archive folder to write")
    parser.add_argument("--calls", type=int, required=True, help="number of calls")
    parser.add_argument("--seed", type=int, required=True, help="corpus seed (>= 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes rendering calls (default: all cores)")
    parser.add_argument("--example", action="store_true",
                        help="guarantee coverage for the bundled example: every label, "
                             "split and format, short calls, one 2-min emergency, "
                             "one prank caller calling three times")
    parser.add_argument("--long-fraction", type=float, default=0.02,
                        help="share of long calls (talk with, for emergencies, an episode "
                             "in the middle), never pranks (default 0.02)")
    parser.add_argument("--min-long-s", type=float, default=corpus.LONG_S[0],
                        help=f"shortest long call in s, >= {corpus.MIN_LONG_S:g} "
                             f"(default {corpus.LONG_S[0]:g})")
    parser.add_argument("--max-long-s", type=float, default=corpus.LONG_S[1],
                        help=f"longest long call in s (default {corpus.LONG_S[1]:g}); long "
                             f"calls last uniform(min, max)")
    parser.add_argument("--layout", choices=corpus.LAYOUTS, default="manifest",
                        help="how the archive describes its calls: 'manifest' (manifest.csv, "
                             "the default) or 'aihub' (AI Hub 119-call JSON labels beside the "
                             "audio and an emotion-dialogue table for everyday calls, no "
                             "manifest; docs/archive.md)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace manifest.csv (or the emotion-dialogue table) and audio/ "
                             "of a non-empty --out")


def run_command(args: argparse.Namespace) -> int:
    """Plans, renders and writes the archive; prints a JSON summary. Returns 0."""
    started = time.monotonic()
    plans = corpus.plan_corpus(n_calls=args.calls, seed=args.seed, example=args.example,
                               long_fraction=args.long_fraction, min_long_s=args.min_long_s,
                               max_long_s=args.max_long_s)
    corpus.generate_corpus(plans=plans, out_dir=args.out, workers=args.workers,
                           overwrite=args.overwrite, layout=args.layout)
    summary = {"out": args.out, "calls": len(plans), "seed": args.seed,
               "seconds": round(time.monotonic() - started, 1), **corpus.summarise(plans)}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0
