"""Probe: which tokens let a transcript model tell a claimed emergency from an everyday call
in scripts it never saw?

The corpus splits by script template (synth/README.md), so every validation and test call
is worded from a script the model never read. For each token set of
:data:`transforms.spec.TOKEN_SETS` this script tokenises the archive's transcripts with
:meth:`transforms.text.OktTokenizer.for_config`, fits an L2 logistic regression on binary
bags of the training split's unigrams and bigrams (those seen at least twice) to the text
head's target, "the words claim an emergency" (label ``emergency`` or ``prank``), and
prints per held-out split its ROC AUC and the share of everyday calls it scores as claims
(p > 0.5); also how many tokens the transcripts make. A linear model over the same
transcripts keeps the comparison about the tokens, not about a network's training.

Figures and what they mean: models/README.md, "Tokens: morphemes, not content words".
Run (~1 min; 2.5 min with corpus5000):
``.venv/bin/python benchmarks/token_probe.py --archive /work/data/corpus2000
[--eval-archive /work/data/corpus5000]``.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
from typing import Mapping, Sequence

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.delivery_probe import fit_logistic  # noqa: E402
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


def claim_labels(calls: Sequence[CallRecord]) -> np.ndarray:
    """The text head's target per call (bool (n,)): the words claim an emergency."""
    return np.array([record.label != "normal" for record in calls])


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
    args = parser.parse_args(argv)
    archives = {args.archive: labelled_calls(args.archive)}
    archives.update({path: labelled_calls(path) for path in args.eval_archive})
    # keyed by the manifest row: two archives may reuse call ids
    transcripts = {record.source_uri: read_transcript(record)
                   for calls in archives.values() for split in calls.values() for record in split}
    train = archives[args.archive]["train"]
    print("token set      | split                        | claim ROC AUC "
          "| everyday calls read as claims")
    for token_set in TOKEN_SETS:
        tokenizer = OktTokenizer.for_config(FeatureConfig(tokens=token_set))
        # on Okt's own threads, as the job runs it (Okt on the main thread of a process
        # that has loaded TensorFlow crashed the JVM here)
        pending = {key: tokenizer.tokenize_async(text) for key, text in transcripts.items()}
        tokens = {key: future.result() for key, future in pending.items()}
        lengths = np.array([len(found) for found in tokens.values()])
        print(f"{token_set:14s} | tokens per transcript: median {np.median(lengths):.0f}, "
              f"over 24 {np.mean(lengths > 24):.1%}, over 48 {np.mean(lengths > 48):.1%}")
        counts = collections.Counter(
            gram for record in train for gram in ngrams(tokens[record.source_uri]))
        index = {gram: i for i, gram in enumerate(
            sorted(gram for gram, count in counts.items() if count >= MIN_COUNT))}
        beta = fit_logistic(bags([tokens[r.source_uri] for r in train], index),
                            claim_labels(train), l2=L2, iterations=20)
        for archive, calls in archives.items():
            for split in ("validation", "test"):
                held_out = calls.get(split, [])
                if not held_out:
                    continue
                z = beta[0] + bags([tokens[r.source_uri] for r in held_out], index) @ beta[1:]
                labels = claim_labels(held_out)
                auc = roc_auc(labels=labels, scores=z)
                read_as_claims = float(np.mean(z[~labels] > 0))
                name = f"{pathlib.Path(archive).name} {split} ({len(held_out)})"
                print(f"{token_set:14s} | {name:28s} | {auc:.4f}        | {read_as_claims:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
