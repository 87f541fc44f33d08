"""Call-level evaluation: score windows, aggregate them per call, and measure.

The metric functions are pure numpy over per-call arrays. :func:`score_calls` runs a
bundle's model over a :class:`~models.dataset.WindowSet` and pools each call's windows with
:func:`models.aggregate.aggregate_windows` (as the nightly job does), so the figures here
are the ones the triage job will show. :func:`evaluate_bundle` is ``call-triage evaluate``.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from typing import Mapping, Optional, Sequence

import numpy as np
import sklearn.calibration
import sklearn.metrics

from models.aggregate import CallScores, aggregate_windows
from models.bundle import ModelBundle
from models.serving import predict_windows, with_precision
from models.dataset import (WindowSet, load_archive_features, relabel, split_calls,
                            window_set)
from transforms import spec
from transforms.aihub import URGENCY_LEVELS, LabelMapping
from transforms.errors import ConfigError
from transforms.features import CallFeatures

#: Emergency recall the chosen threshold keeps on the validation split.
EMERGENCY_MIN_RECALL = 0.98
#: Prank recall the chosen prank threshold keeps on the validation split.
PRANK_MIN_RECALL = 0.90
_EPSILON = 1e-7  # probability clip for the log loss


@dataclasses.dataclass(frozen=True, eq=False)
class ScoredWindows:
    """A window set's predictions: ``outputs`` per output name over the N windows
    (sigmoid ``(N,)``, category ``(N, n_categories)``) and ``calls``, one
    :class:`CallScores` per call of the set, in order."""

    outputs: dict[str, np.ndarray]
    calls: tuple[CallScores, ...]


# --- metric functions ---------------------------------------------------------------

def _binary(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(labels, dtype=bool).ravel()
    values = np.asarray(scores, dtype=np.float64).ravel()
    if truth.shape != values.shape:
        raise ConfigError(f"labels {truth.shape} and scores {values.shape} differ in length")
    if not np.all(np.isfinite(values)):
        raise ConfigError("scores hold NaN or Inf")
    return truth, values


def roc_auc(*, labels: Sequence[bool] | np.ndarray,
            scores: Sequence[float] | np.ndarray) -> Optional[float]:
    """Area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`: the probability that
    a random positive scores above a random negative, ties counting one half). ``None``
    when only one class is present."""
    truth, values = _binary(labels, scores)
    if truth.all() or not truth.any():
        return None
    return float(sklearn.metrics.roc_auc_score(truth, values))


def confusion(*, labels: Sequence[bool] | np.ndarray,
              predicted: Sequence[bool] | np.ndarray) -> dict[str, int]:
    """Counts ``{"tp", "fp", "fn", "tn"}`` of boolean predictions against boolean labels."""
    truth, guess = (np.asarray(values, dtype=bool).ravel() for values in (labels, predicted))
    if truth.shape != guess.shape:
        raise ConfigError(f"labels {truth.shape} and predictions {guess.shape} differ in length")
    tn, fp, fn, tp = sklearn.metrics.confusion_matrix(truth, guess, labels=[False, True]).ravel()
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}


#: Equal-width score bins of the calibration curve.
CALIBRATION_BINS = 10


def calibration(*, labels: Sequence[bool] | np.ndarray,
                scores: Sequence[float] | np.ndarray, n_bins: int = CALIBRATION_BINS
                ) -> dict:
    """How well ``scores`` read as probabilities: in each of ``n_bins`` equal-width score
    bins with calls, the mean score, the share of positives and the number of calls
    (:func:`sklearn.calibration.calibration_curve`); the calls in every bin, empty ones
    included (``calls_per_bin``, the reference of the night report's drift check); and the
    expected calibration error ``ece``: the calls-weighted mean of |share of positives −
    mean score| over the bins."""
    truth, values = _binary(labels, scores)
    fraction, mean_score = sklearn.calibration.calibration_curve(
        truth, np.clip(values, 0.0, 1.0), n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]  # the bins calibration_curve uses
    per_bin = np.bincount(np.searchsorted(edges, np.clip(values, 0.0, 1.0)), minlength=n_bins)
    counts = per_bin[per_bin > 0]
    ece = float(np.sum(counts * np.abs(fraction - mean_score)) / truth.size)
    return {"mean_score": [round(float(v), 4) for v in mean_score],
            "fraction_positive": [round(float(v), 4) for v in fraction],
            "calls": [int(v) for v in counts], "calls_per_bin": [int(v) for v in per_bin],
            "ece": round(ece, 4)}


def _ratio(numerator: int, denominator: int) -> Optional[float]:
    return numerator / denominator if denominator else None


def binary_metrics(*, labels: Sequence[bool] | np.ndarray,
                   scores: Sequence[float] | np.ndarray, threshold: float) -> dict:
    """Accuracy, precision, recall, F1 and ROC AUC of ``scores >= threshold``.

    Returns ``{"n", "positives", "threshold", "accuracy", "precision", "recall", "f1",
    "roc_auc", "confusion_matrix": {"tp", "fp", "fn", "tn"}}``; a ratio with a zero
    denominator (no positives predicted, none true) is ``None``.
    """
    truth, values = _binary(labels, scores)
    counts = confusion(labels=truth, predicted=values >= threshold)
    precision = _ratio(counts["tp"], counts["tp"] + counts["fp"])
    recall = _ratio(counts["tp"], counts["tp"] + counts["fn"])
    f1 = (None if precision is None or recall is None
          else 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return {
        "n": int(truth.size),
        "positives": int(truth.sum()),
        "threshold": float(threshold),
        "accuracy": _ratio(counts["tp"] + counts["tn"], truth.size),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(labels=truth, scores=values),
        "confusion_matrix": counts,
    }


def choose_threshold(*, labels: Sequence[bool] | np.ndarray,
                     scores: Sequence[float] | np.ndarray, min_recall: float) -> float:
    """The decision threshold (flag when ``score >= threshold``) that keeps recall at
    least ``min_recall`` with the fewest false alarms.

    The largest threshold with recall ≥ ``min_recall`` is the k-th highest positive score,
    k = ceil(min_recall · positives); every threshold down to just above the next-lower
    NEGATIVE score flags the same negatives and more positives. The result lies midway in
    that gap: between the highest negative score below that k-th positive (0 if none) and
    the lowest positive score above that negative. So on these arrays it has the fewest
    false positives any threshold with recall ≥ ``min_recall`` can have, the highest recall
    among those, and it does not sit exactly on a score. Raises ConfigError without
    positives or for ``min_recall`` outside (0, 1].
    """
    if not 0.0 < min_recall <= 1.0:
        raise ConfigError(f"min_recall={min_recall} must be in (0, 1]")
    truth, values = _binary(labels, scores)
    positives = np.sort(values[truth])[::-1]
    if positives.size == 0:
        raise ConfigError("cannot choose a threshold: there are no positive examples")
    needed = max(1, math.ceil(min_recall * positives.size - 1e-9))
    kth = positives[needed - 1]
    lower_negatives = values[~truth & (values < kth)]
    lower = float(lower_negatives.max()) if lower_negatives.size else 0.0
    upper = float(positives[positives > lower].min())
    return (lower + upper) / 2.0


def log_loss(*, labels: Sequence[bool] | np.ndarray,
             scores: Sequence[float] | np.ndarray) -> float:
    """Mean binary cross-entropy (nats) of probabilities ``scores``, clipped to
    [1e-7, 1 - 1e-7] as Keras does."""
    truth, values = _binary(labels, scores)
    p = np.clip(values, _EPSILON, 1.0 - _EPSILON)
    return float(-np.mean(np.where(truth, np.log(p), np.log1p(-p))))


def category_accuracy(*, calls: Sequence[CallFeatures],
                      scores: Sequence[CallScores]) -> dict:
    """Per-category accuracy of the calls' predicted category (the aggregated argmax).

    Only ``emergency`` and ``normal`` calls with a known category count (a prank's
    category is what the caller claims, not what happened). Returns ``{"accuracy", "n",
    "per_category": {slug: {"n", "correct", "accuracy"}}}`` with the slugs in taxonomy
    order; ``accuracy`` is ``None`` when no call counts.
    """
    per_category: dict[str, dict] = {}
    for call, score in zip(calls, scores, strict=True):
        truth = call.record.category
        if call.record.label not in ("emergency", "normal") or truth not in spec.CATEGORIES:
            continue
        entry = per_category.setdefault(truth, {"n": 0, "correct": 0})
        entry["n"] += 1
        entry["correct"] += int(score.category == truth)
    for entry in per_category.values():
        entry["accuracy"] = entry["correct"] / entry["n"]
    total = sum(entry["n"] for entry in per_category.values())
    correct = sum(entry["correct"] for entry in per_category.values())
    return {"accuracy": _ratio(correct, total), "n": total,
            "per_category": {slug: per_category[slug] for slug in spec.CATEGORIES
                             if slug in per_category}}


# --- scoring and the whole evaluation ---------------------------------------------------

def score_calls(bundle: ModelBundle, windows: WindowSet, *, batch_size: int = 64
                ) -> ScoredWindows:
    """Predict every window of ``windows`` with ``bundle`` and aggregate them per call
    (:func:`aggregate_windows`, ``method="max"``, the nightly job's default)."""
    outputs = predict_windows(bundle, windows.inputs, batch_size=batch_size)
    calls = tuple(
        aggregate_windows(outputs={name: values[rows] for name, values in outputs.items()},
                          window_starts_s=call.window_starts_s,
                          window_s=bundle.config.window_s, duration_s=call.duration_s)
        for call, rows in zip(windows.calls, windows.call_windows()))
    return ScoredWindows(outputs=outputs, calls=calls)


#: Call scores a precision check compares (the ``CallScores`` fields ``<head>_score``).
SCORE_HEADS = ("emergency", "audio", "text", "prank")


def compare_precisions(*, reference: Sequence[CallScores], candidate: Sequence[CallScores],
                       thresholds: Mapping[str, float]) -> dict:
    """How far the call scores ``candidate`` stray from ``reference`` (the same calls, in
    order; e.g. bfloat16 against float32).

    Returns ``{"calls", "max_score_change": {head: largest |difference|, rounded to 6
    decimals} over the :data:`SCORE_HEADS` the model has (heads it lacks are left out),
    "decisions_changed": {head: calls on the other side of the head's threshold} for each
    of ``thresholds`` (``"emergency"``, ``"prank"``) the model has, plus ``"category"``:
    calls whose top category differs}``.
    """
    if len(reference) != len(candidate) or not reference:
        raise ConfigError(f"cannot compare {len(candidate)} calls with {len(reference)}")

    def scores(calls: Sequence[CallScores], head: str) -> np.ndarray:
        return np.array([getattr(score, f"{head}_score") for score in calls], dtype=np.float64)

    heads = [head for head in SCORE_HEADS if getattr(reference[0], f"{head}_score") is not None]
    changes = {head: round(float(np.max(np.abs(scores(candidate, head)
                                               - scores(reference, head)))), 6)
               for head in heads}
    decisions = {head: int(np.sum((scores(reference, head) >= threshold)
                                  != (scores(candidate, head) >= threshold)))
                 for head, threshold in sorted(thresholds.items()) if head in heads}
    decisions["category"] = sum(mine.category != theirs.category
                                for mine, theirs in zip(reference, candidate))
    return {"calls": len(reference), "max_score_change": changes,
            "decisions_changed": decisions}


def precision_check(bundle: ModelBundle, windows: WindowSet, *, split: str,
                    precision: str = "bfloat16",
                    reference: Optional[ScoredWindows] = None) -> dict:
    """Score ``windows`` with float32 ``bundle`` (or take its ``reference`` scores) and in
    ``precision``, and compare them at the bundle's thresholds
    (:func:`compare_precisions`), plus ``precision``, ``split``, ``windows`` and
    ``checked_at``: the record :func:`models.bundle.record_precision_check` stores.
    Raises ConfigError unless ``bundle`` computes in float32."""
    if bundle.precision != "float32":
        raise ConfigError(f"the reference bundle computes in {bundle.precision}, not float32")
    reference = reference or score_calls(bundle, windows)
    candidate = score_calls(with_precision(bundle, precision), windows)
    return {"precision": precision, "split": split, "windows": windows.n_windows,
            **compare_precisions(reference=reference.calls, candidate=candidate.calls,
                                 thresholds=bundle.thresholds),
            "checked_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")}


def choose_thresholds(*, calls: Sequence[CallFeatures], scores: Sequence[CallScores],
                      recall_target: float = EMERGENCY_MIN_RECALL) -> dict[str, float]:
    """Thresholds from one split (the validation split): ``"emergency"`` with recall ≥
    ``recall_target``, and ``"prank"`` with recall ≥ :data:`PRANK_MIN_RECALL` when the
    model has a prank head and the split has pranks."""
    labels = [call.record.label for call in calls]
    thresholds = {"emergency": choose_threshold(
        labels=[label == "emergency" for label in labels],
        scores=[score.emergency_score for score in scores], min_recall=recall_target)}
    if scores and scores[0].prank_score is not None and "prank" in labels:
        thresholds["prank"] = choose_threshold(
            labels=[label == "prank" for label in labels],
            scores=[score.prank_score for score in scores], min_recall=PRANK_MIN_RECALL)
    return thresholds


def call_metrics(*, windows: WindowSet, scored: ScoredWindows,
                 thresholds: Mapping[str, float]) -> dict:
    """Every figure of one split, as ``call-triage evaluate`` writes it.

    ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` and ``confusion_matrix``
    are call-level, emergency vs not (pranks are not emergencies), at
    ``thresholds["emergency"]``; ``flagged_by_label`` is the share of each label's calls
    flagged as emergencies; ``category`` as :func:`category_accuracy`; ``prank`` the prank
    head's call-level figures at ``thresholds["prank"]`` (0.5 if absent), or ``None``;
    ``window_loss`` the mean binary cross-entropy of the window emergency scores;
    ``calibration`` the emergency score's calibration curve and error (:func:`calibration`).
    """
    labels = [call.record.label for call in windows.calls]
    emergency = np.array([score.emergency_score for score in scored.calls])
    flagged = emergency >= thresholds["emergency"]
    metrics = {
        "n_calls": len(labels),
        "n_windows": windows.n_windows,
        "calls_by_label": {label: labels.count(label) for label in spec.LABELS},
        **binary_metrics(labels=[label == "emergency" for label in labels], scores=emergency,
                         threshold=thresholds["emergency"]),
        "flagged_by_label": {
            label: _ratio(int(np.sum(flagged[[lab == label for lab in labels]])),
                          labels.count(label)) for label in spec.LABELS},
        "window_loss": log_loss(labels=windows.targets[spec.EMERGENCY_OUTPUT],
                                scores=scored.outputs[spec.EMERGENCY_OUTPUT]),
        "calibration": calibration(labels=[label == "emergency" for label in labels],
                                   scores=emergency),
        "category": category_accuracy(calls=windows.calls, scores=scored.calls),
        "prank": None,
    }
    if scored.calls[0].prank_score is not None:
        metrics["prank"] = binary_metrics(
            labels=[label == "prank" for label in labels],
            scores=[score.prank_score for score in scored.calls],
            threshold=thresholds.get("prank", 0.5))
    return metrics


def _call_row(call: CallFeatures, score: CallScores) -> dict:
    """One call of an error list: ids, the truth and the model's scores."""
    return {"call_id": call.record.call_id, "label": call.record.label,
            "category": call.record.category, "urgency_level": call.record.urgency_level,
            "predicted_category": score.category,
            "emergency_score": round(score.emergency_score, 4),
            "audio_score": None if score.audio_score is None else round(score.audio_score, 4),
            "text_score": None if score.text_score is None else round(score.text_score, 4),
            "prank_score": None if score.prank_score is None else round(score.prank_score, 4)}


def call_errors(*, calls: Sequence[CallFeatures], scores: Sequence[CallScores],
                threshold: float) -> dict[str, list[dict]]:
    """The calls the emergency decision at ``threshold`` gets wrong: ``missed_emergencies``
    (lowest score first) and ``false_alarms`` (normal or prank calls flagged, highest score
    first), each row as :func:`_call_row`."""
    missed, false_alarms = [], []
    for call, score in zip(calls, scores, strict=True):
        flagged = score.emergency_score >= threshold
        if call.record.label == "emergency" and not flagged:
            missed.append(_call_row(call, score))
        elif call.record.label != "emergency" and flagged:
            false_alarms.append(_call_row(call, score))
    return {"missed_emergencies": sorted(missed, key=lambda row: row["emergency_score"]),
            "false_alarms": sorted(false_alarms, key=lambda row: -row["emergency_score"])}


def recall_by_urgency(*, calls: Sequence[CallFeatures], scores: Sequence[CallScores],
                      threshold: float) -> dict[str, dict]:
    """The emergency recall at ``threshold`` per AI Hub ``urgencyLevel`` of the emergency
    calls that have one (``상`` first): ``{level: {"emergencies", "flagged", "recall"}}``;
    empty when no emergency has one."""
    counts: dict[str, list[int]] = {}
    for call, score in zip(calls, scores, strict=True):
        level = call.record.urgency_level
        if call.record.label == "emergency" and level is not None:
            tally = counts.setdefault(level, [0, 0])
            tally[0] += 1
            tally[1] += int(score.emergency_score >= threshold)
    return {level: {"emergencies": n, "flagged": flagged, "recall": round(flagged / n, 4)}
            for level, (n, flagged) in sorted(counts.items(),
                                              key=lambda item: URGENCY_LEVELS.index(item[0]))}


def category_confusion(*, calls: Sequence[CallFeatures], scores: Sequence[CallScores]
                       ) -> dict:
    """True × predicted category counts of the emergency and normal calls with a known
    category: ``{"categories": [slug, ...], "matrix": [[int]]}``, rows the truth, columns
    the prediction, the slugs that occur in taxonomy order."""
    pairs = [(call.record.category, score.category) for call, score in zip(calls, scores)
             if call.record.label in ("emergency", "normal")
             and call.record.category in spec.CATEGORIES]
    present = {slug for pair in pairs for slug in pair}
    categories = [slug for slug in spec.CATEGORIES if slug in present]
    if not pairs:
        return {"categories": [], "matrix": []}
    truth, predicted = zip(*pairs)
    matrix = sklearn.metrics.confusion_matrix(truth, predicted, labels=categories)
    return {"categories": categories, "matrix": matrix.tolist()}


def score_curves(*, labels: Sequence[bool] | np.ndarray,
                 scores: Sequence[float] | np.ndarray) -> Optional[dict]:
    """The ROC and precision-recall curves of ``scores`` (scikit-learn's), as lists:
    ``{"roc": {"fpr", "tpr", "thresholds"}, "pr": {"precision", "recall", "thresholds"},
    "average_precision"}``; ``None`` when only one class is present. The ROC curve's first
    threshold (scikit-learn's +inf, flagging nothing) is written as ``None``."""
    truth, values = _binary(labels, scores)
    if truth.all() or not truth.any():
        return None
    fpr, tpr, roc_thresholds = sklearn.metrics.roc_curve(truth, values)
    precision, recall, pr_thresholds = sklearn.metrics.precision_recall_curve(truth, values)

    def listed(array: np.ndarray) -> list:
        return [None if not np.isfinite(value) else round(float(value), 6) for value in array]

    return {"roc": {"fpr": listed(fpr), "tpr": listed(tpr), "thresholds": listed(roc_thresholds)},
            "pr": {"precision": listed(precision), "recall": listed(recall),
                   "thresholds": listed(pr_thresholds)},
            "average_precision": float(sklearn.metrics.average_precision_score(truth, values))}


def error_analysis(*, windows: WindowSet, scored: ScoredWindows,
                   thresholds: Mapping[str, float]) -> dict:
    """What ``call-triage evaluate`` shows beyond :func:`call_metrics`: the wrong calls
    (:func:`call_errors`), the recall per urgency level (:func:`recall_by_urgency`), the
    category confusion matrix and the emergency score's ROC and PR curves
    (:func:`score_curves`)."""
    return {
        **call_errors(calls=windows.calls, scores=scored.calls,
                      threshold=thresholds["emergency"]),
        "recall_by_urgency": recall_by_urgency(calls=windows.calls, scores=scored.calls,
                                               threshold=thresholds["emergency"]),
        "category_confusion": category_confusion(calls=windows.calls, scores=scored.calls),
        "curves": score_curves(
            labels=[call.record.label == "emergency" for call in windows.calls],
            scores=[score.emergency_score for score in scored.calls]),
    }


def format_precision_check(check: Mapping) -> str:
    """One line on a :func:`precision_check`: its largest score changes and changed
    decisions."""
    changes = ", ".join(f"{head} {value:.4f}" for head, value in
                        check["max_score_change"].items())
    decisions = ", ".join(f"{head} {count}" for head, count in
                          check["decisions_changed"].items())
    return f"largest call-score change {changes}; decisions changed: {decisions}"


def _percent(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _auc(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_metrics(metrics: Mapping, *, title: str) -> str:
    """A readable plain-text table of :func:`call_metrics` output."""
    counts = metrics["confusion_matrix"]
    by_label = ", ".join(f"{label} {n}" for label, n in metrics["calls_by_label"].items())
    lines = [
        title,
        f"  calls {metrics['n_calls']} ({by_label}), windows {metrics['n_windows']}, "
        f"emergency threshold {metrics['threshold']:.4f}",
        f"  accuracy {_percent(metrics['accuracy'])}   precision {_percent(metrics['precision'])}"
        f"   recall {_percent(metrics['recall'])}   F1 {_percent(metrics['f1'])}"
        f"   ROC AUC {_auc(metrics['roc_auc'])}",
        "  confusion (emergency vs not)   predicted emergency   predicted not",
        f"    true emergency               {counts['tp']:>19}   {counts['fn']:>13}",
        f"    true not emergency           {counts['fp']:>19}   {counts['tn']:>13}",
        "  flagged as emergency, by label: " + ", ".join(
            f"{label} {_percent(share)}" for label, share in metrics["flagged_by_label"].items()),
        f"  calibration of the emergency score: expected calibration error "
        f"{metrics['calibration']['ece']:.3f} over {len(metrics['calibration']['calls'])} "
        f"score bins",
        f"  category accuracy {_percent(metrics['category']['accuracy'])} "
        f"over {metrics['category']['n']} emergency/normal calls:",
    ]
    lines += [f"    {slug:<16} {entry['correct']:>4}/{entry['n']:<4} {_percent(entry['accuracy'])}"
              for slug, entry in metrics["category"]["per_category"].items()]
    prank = metrics.get("prank")
    if prank is not None:
        lines.append(
            f"  prank head (threshold {prank['threshold']:.3f}): precision "
            f"{_percent(prank['precision'])}, recall {_percent(prank['recall'])}, "
            f"F1 {_percent(prank['f1'])}, ROC AUC {_auc(prank['roc_auc'])}")
    return "\n".join(lines)


def _score(value: Optional[float]) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def format_errors(analysis: Mapping, *, most: int = 40) -> str:
    """A readable plain-text view of :func:`error_analysis`: the category confusion matrix
    and the first ``most`` calls of each error list."""
    lines = []
    confusion_table = analysis["category_confusion"]
    if confusion_table["categories"]:
        slugs = confusion_table["categories"]
        lines.append("  category confusion (rows: true, columns: predicted)")
        lines.append("    " + " " * 16 + "".join(f"{slug[:5]:>6}" for slug in slugs))
        lines += [f"    {slug:<16}" + "".join(f"{count:>6}" for count in row)
                  for slug, row in zip(slugs, confusion_table["matrix"])]
    if analysis["recall_by_urgency"]:
        lines.append("  recall by urgencyLevel: " + ", ".join(
            f"{level} {entry['recall']:.3f} ({entry['flagged']}/{entry['emergencies']})"
            for level, entry in analysis["recall_by_urgency"].items()))
    if analysis["curves"] is not None:
        lines.append(f"  average precision (area under the PR curve) "
                     f"{analysis['curves']['average_precision']:.4f}")
    for key, title in (("missed_emergencies", "missed emergencies"),
                       ("false_alarms", "false alarms")):
        rows = analysis[key]
        lines.append(f"  {title}: {len(rows)}")
        if rows:
            lines.append(f"    {'call_id':<14} {'label':<9} {'category':<16} {'predicted':<16}"
                         f" emerg  audio  text   prank  urgency")
        for row in rows[:most]:
            lines.append(
                f"    {row['call_id']:<14} {row['label']:<9} {row['category'] or '-':<16} "
                f"{row['predicted_category']:<16} {_score(row['emergency_score'])}  "
                f"{_score(row['audio_score'])}  {_score(row['text_score'])}  "
                f"{_score(row['prank_score'])}  {row['urgency_level'] or '-'}")
        if len(rows) > most:
            lines.append(f"    … and {len(rows) - most} more (all of them in --out)")
    return "\n".join(lines)


def archive_windows(bundle: ModelBundle, *, archive: str, splits: Sequence[str],
                    cache_dir: Optional[str], workers: Optional[int] = None,
                    labels: Optional[Mapping[str, dict]] = None,
                    label_mapping: Optional[LabelMapping] = None
                    ) -> tuple[dict[str, WindowSet], int]:
    """The windows of the ``splits`` of a labelled archive (each one of ``spec.SPLITS`` or
    ``"all"``) as ``bundle`` takes them (its vocabulary and inputs), from one read of the
    archive's features, and the number of calls that could not be featurised. ``labels``
    (:func:`models.dataset.read_labels`) replace the archive's own; ``label_mapping``
    maps its AI Hub labels (default: the shipped mapping). Raises ConfigError for
    an unknown split or one without labelled calls."""
    unknown = [split for split in splits if split not in spec.SPLITS + ("all",)]
    if unknown:
        raise ConfigError(f"split(s) {unknown} must be among {spec.SPLITS + ('all',)}")
    features = load_archive_features(archive, config=bundle.config, cache_dir=cache_dir,
                                     workers=workers, label_mapping=label_mapping)
    calls = features.calls if labels is None else relabel(features.calls, labels)
    by_split = split_calls(calls)
    windows = {}
    for split in splits:
        calls = sum(by_split.values(), ()) if split == "all" else by_split[split]
        if not calls:
            raise ConfigError(f"archive {archive!r} has no labelled calls in split {split!r}")
        windows[split] = window_set(calls, vocab=bundle.vocabulary, config=bundle.config,
                                    input_names=bundle.input_names)
    return windows, len(features.errors)


def split_windows(bundle: ModelBundle, *, archive: str, split: str, cache_dir: Optional[str],
                  workers: Optional[int] = None, labels: Optional[Mapping[str, dict]] = None,
                  label_mapping: Optional[LabelMapping] = None) -> tuple[WindowSet, int]:
    """The windows of one split of a labelled archive (:func:`archive_windows`)."""
    windows, n_errors = archive_windows(bundle, archive=archive, splits=(split,),
                                        cache_dir=cache_dir, workers=workers, labels=labels,
                                        label_mapping=label_mapping)
    return windows[split], n_errors


def evaluate_bundle(bundle: ModelBundle, *, archive: str, split: str, cache_dir: Optional[str],
                    workers: Optional[int] = None,
                    labels: Optional[Mapping[str, dict]] = None,
                    label_mapping: Optional[LabelMapping] = None) -> dict:
    """``call-triage evaluate``: the :func:`call_metrics` and :func:`error_analysis` of
    ``bundle`` on one split of a labelled archive (:func:`split_windows`; ``labels``
    replace the archive's own), at the bundle's thresholds, plus ``archive``, ``split``,
    ``model_name``, ``model_version`` and ``n_errors`` (calls that could not be
    featurised)."""
    windows, n_errors = split_windows(bundle, archive=archive, split=split,
                                      cache_dir=cache_dir, workers=workers, labels=labels,
                                      label_mapping=label_mapping)
    scored = score_calls(bundle, windows)
    return {"archive": archive, "split": split, "model_name": bundle.model_name,
            "model_version": bundle.model_version, "n_errors": n_errors,
            **call_metrics(windows=windows, scored=scored, thresholds=bundle.thresholds),
            **error_analysis(windows=windows, scored=scored, thresholds=bundle.thresholds)}
