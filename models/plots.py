"""Figures of an evaluation: the emergency score's ROC and precision-recall curves as SVG.

Drawn with matplotlib's non-interactive Agg/SVG backend (no display needed).
"""

from __future__ import annotations

import io
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def curve_svgs(curves: Mapping, *, title: str, threshold: float) -> dict[str, str]:
    """``{"roc.svg": text, "pr.svg": text}`` of :func:`models.evaluate.score_curves` output;
    each curve marks the operating point of ``threshold`` (the bundle's)."""
    roc, pr = curves["roc"], curves["pr"]
    figures = {}
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot(roc["fpr"], roc["tpr"], drawstyle="steps-post")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    point = _operating_point(roc["thresholds"], threshold)
    if point is not None:
        axes.plot(roc["fpr"][point], roc["tpr"][point], "o", label=f"threshold {threshold:.3f}")
        axes.legend(loc="lower right")
    axes.set(xlabel="false-alarm rate", ylabel="emergency recall", xlim=(0, 1), ylim=(0, 1.02),
             title=f"ROC: {title}")
    figures["roc.svg"] = _svg(figure)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot(pr["recall"], pr["precision"], drawstyle="steps-post")
    point = _operating_point(pr["thresholds"], threshold)
    if point is not None:
        axes.plot(pr["recall"][point], pr["precision"][point], "o",
                  label=f"threshold {threshold:.3f}")
        axes.legend(loc="lower left")
    axes.set(xlabel="emergency recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
             title=f"Precision-recall: {title}")
    figures["pr.svg"] = _svg(figure)
    return figures


def _operating_point(thresholds, threshold: float) -> int | None:
    """Index of the curve point that flags what ``score >= threshold`` flags: the lowest
    curve threshold that is still >= ``threshold``."""
    candidates = [(value, index) for index, value in enumerate(thresholds)
                  if value is not None and value >= threshold]
    return min(candidates)[1] if candidates else None
