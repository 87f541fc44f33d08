"""Probe: which tokens let a transcript model tell a claimed emergency from an everyday call
in scripts it never saw?

The corpus splits by script template (synth/README.md), so every validation and test call
is worded from a script the model never read. For each token set of
:data:`transforms.spec.TOKEN_SETS` this script tokenises the archive's transcripts with
:meth:`transforms.text.OktTokenizer.for_config`, fits an L2 logistic regression on binary
bags of the training split's unigrams and bigrams (those seen at least twice) to the text
head's target, "the words claim an emergency" (label ``emergency`` or ``prank``), or with
``--target emergency`` to the verdict gate's, "the words report a real emergency" (label
``emergency``), and prints per held-out split its ROC AUC and the share of everyday calls
it scores positive (p > 0.5); also how many tokens the transcripts make. A linear model
over the same transcripts keeps the comparison about the tokens, not about a network's
training. ``--reads-under 48`` keeps only the transcripts the gate reads whole with the
default token input (models/layers.py).

Run: ``.venv/bin/python benchmarks/experiments/token_probe.py --archive /work/data/corpus2000
[--eval-archive /work/data/corpus5000]``.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
from typing import Mapping, Sequence

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from benchmarks.experiments.delivery_probe import fit_logistic  # noqa: E402
from models.evaluate import roc_auc  # noqa: E402
from transforms.archive import list_calls, read_transcript  # noqa: E402
from transforms.records import CallRecord  # noqa: E402
from transforms.spec import SPLITS, TOKEN_SETS, FeatureConfig  # noqa: E402
from transforms.text import OktTokenizer  # noqa: E402

L2 = 3.0
MIN_COUNT = 2


def ngrams(tokens: Sequence[str]) -> set[str]:
    """The unigrams and bigrams of ``tokens``."""
    return set(tokens) | {f"{a} {b}" for a, b in zip(tokens, tokens[1:])}


def labelled_calls(archive: str) -> dict[str, list[CallRecord]]:
    """The archive's labelled calls by split."""
    by_split = collections.defaultdict(list)
    for record in list_calls(archive):
        if isinstance(record, CallRecord) and record.label and record.split in SPLITS:
            by_split[record.split].append(record)
    return by_split


#: What the probe learns from the words: the text head's target (claim) or the gate's (emergency).
TARGETS = ("claim", "emergency")


def target_labels(calls: Sequence[CallRecord], target: str) -> np.ndarray:
    """``target`` (:data:`TARGETS`) per call, bool (n,): ``claim`` for the labels
    ``emergency`` and ``prank``, ``emergency`` for ``emergency`` alone."""
    if target == "claim":
        return np.array([record.label != "normal" for record in calls])
    return np.array([record.label == "emergency" for record in calls])


def bags(texts: Sequence[Sequence[str]], index: Mapping[str, int]) -> np.ndarray:
    """Binary bags (n, len(index)) of the n-grams of each token list."""
    matrix = np.zeros((len(texts), len(index)))
    for row, tokens in enumerate(texts):
        matrix[row, [index[gram] for gram in ngrams(tokens) if gram in index]] = 1.0
    return matrix


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="labelled archive to fit on")
    parser.add_argument("--eval-archive", action="append", default=[],
                        help="further archive whose held-out splits are scored (repeatable)")
    parser.add_argument("--target", choices=TARGETS, default="claim",
                        help="claim: the words claim an emergency (the text head's target); "
                             "emergency: they report a real one (the verdict gate's) "
                             "(default: %(default)s)")
    parser.add_argument("--reads-under", type=int, default=None, metavar="N",
                        help="fit on and score only transcripts of fewer than N tokens, as "
                             "the gate reads them with a token input of N (default: all)")
    args = parser.parse_args(argv)
    archives = {args.archive: labelled_calls(args.archive)}
    archives.update({path: labelled_calls(path) for path in args.eval_archive})
    # keyed by the manifest row: two archives may reuse call ids
    transcripts = {record.source_uri: read_transcript(record)[0]
                   for calls in archives.values() for split in calls.values() for record in split}
    train = archives[args.archive]["train"]
    print(f"target: {args.target}; transcripts: "
          f"{'all' if args.reads_under is None else f'under {args.reads_under} tokens'}")
    print("token set      | split                        | ROC AUC       "
          "| everyday calls scored positive")
    for token_set in TOKEN_SETS:
        tokenizer = OktTokenizer.for_config(FeatureConfig(tokens=token_set))
        # Okt's own threads, as in the job: Okt on a TF process's main thread can crash the JVM
        pending = {key: tokenizer.tokenize_async(text) for key, text in transcripts.items()}
        tokens = {key: future.result() for key, future in pending.items()}
        lengths = np.array([len(found) for found in tokens.values()])
        print(f"{token_set:14s} | tokens per transcript: median {np.median(lengths):.0f}, "
              f"over 24 {np.mean(lengths > 24):.1%}, over 48 {np.mean(lengths > 48):.1%}")

        def read(calls: Sequence[CallRecord]) -> list[CallRecord]:
            return [record for record in calls if args.reads_under is None
                    or len(tokens[record.source_uri]) < args.reads_under]

        fitted = read(train)
        counts = collections.Counter(
            gram for record in fitted for gram in ngrams(tokens[record.source_uri]))
        index = {gram: i for i, gram in enumerate(
            sorted(gram for gram, count in counts.items() if count >= MIN_COUNT))}
        beta = fit_logistic(bags([tokens[r.source_uri] for r in fitted], index),
                            target_labels(fitted, args.target), l2=L2, iterations=20)
        for archive, calls in archives.items():
            for split in ("validation", "test"):
                held_out = read(calls.get(split, []))
                if not held_out:
                    continue
                z = beta[0] + bags([tokens[r.source_uri] for r in held_out], index) @ beta[1:]
                labels = target_labels(held_out, args.target)
                auc = roc_auc(labels=labels, scores=z)
                everyday = np.array([record.label == "normal" for record in held_out])
                everyday_positive = float(np.mean(z[everyday] > 0))
                name = f"{pathlib.Path(archive).name} {split} ({len(held_out)})"
                print(f"{token_set:14s} | {name:28s} | {auc:.4f}        | {everyday_positive:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
