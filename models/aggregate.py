"""Per-call aggregation: the model scores windows, the reports need one row per call.

:func:`aggregate_windows` pools the window outputs of :func:`models.serving.predict_windows`
into :class:`CallScores` (the score, category and evidence columns of the ``calls`` report,
docs/reports.md). Pure numpy.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional

import numpy as np

from transforms.errors import ConfigError, InferenceError
from transforms.spec import (
    AUDIO_OUTPUT,
    CATEGORIES,
    CATEGORY_OUTPUT,
    EMERGENCY_OUTPUT,
    PRANK_OUTPUT,
    SIGMOID_OUTPUTS,
    TEXT_OUTPUT,
)

AGGREGATION_METHODS = ("max", "topk_mean")
DEFAULT_METHOD = "max"


@dataclasses.dataclass(frozen=True)
class CallScores:
    """One call's scores (probabilities in [0, 1]) and where its evidence lies (seconds).

    ``audio_score``, ``text_score`` and ``prank_score`` are ``None`` when the model has no
    such output (only the multimodal model has them). ``evidence_*`` locate the window
    with the highest emergency score, ``evidence_end_s`` clipped to the call's duration.
    """

    emergency_score: float
    audio_score: Optional[float]
    text_score: Optional[float]
    prank_score: Optional[float]
    category: str
    category_score: float
    evidence_start_s: float
    evidence_end_s: float
    evidence_window_index: int
    n_windows: int


def _check_options(*, method: str, k: int, window_s: float) -> None:
    if method not in AGGREGATION_METHODS:
        raise ConfigError(f"method={method!r} must be one of {AGGREGATION_METHODS}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k={k!r} must be an int >= 1")
    if not math.isfinite(window_s) or window_s <= 0:
        raise ConfigError(f"window_s={window_s} must be > 0")


def _check_windows(*, outputs: Mapping[str, np.ndarray], window_starts_s: np.ndarray,
                   duration_s: float) -> None:
    """Raise ValueError unless the outputs and starts describe the same windows, and
    InferenceError for non-finite outputs (the model's answer to this call's inputs)."""
    if window_starts_s.ndim != 1 or len(window_starts_s) < 1:
        raise ValueError(f"window_starts_s has shape {window_starts_s.shape}, "
                             f"expected (n_windows,) with n_windows >= 1")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s={duration_s} must be > 0")
    bad = window_starts_s[~((window_starts_s >= 0) & (window_starts_s < duration_s))]
    if bad.size:
        raise ValueError(f"window starts {bad[:5].tolist()} s are outside the call "
                             f"[0, duration_s={duration_s})")
    missing = [name for name in (EMERGENCY_OUTPUT, CATEGORY_OUTPUT) if name not in outputs]
    if missing:
        raise ValueError(f"outputs {sorted(outputs)} lack {missing}")
    n_windows = len(window_starts_s)
    wanted = {CATEGORY_OUTPUT: (n_windows, len(CATEGORIES))} | {
        name: (n_windows,) for name in SIGMOID_OUTPUTS}
    for name, shape in wanted.items():
        if name not in outputs:
            continue
        if outputs[name].shape != shape:
            raise ValueError(f"output {name!r} has shape {outputs[name].shape}, expected "
                                 f"{shape} for {n_windows} window starts")
        if not np.all(np.isfinite(outputs[name])):
            raise InferenceError(f"output {name!r} holds NaN or Inf")


def _top_windows(scores: np.ndarray, *, method: str, k: int) -> np.ndarray:
    """Indices of the windows a score is pooled over, highest first (ties: earliest first):
    the one highest for ``"max"``, the ``min(k, n)`` highest for ``"topk_mean"``."""
    count = 1 if method == "max" else min(k, len(scores))
    return np.argsort(-scores, kind="stable")[:count]


def aggregate_windows(*, outputs: Mapping[str, np.ndarray], window_starts_s: np.ndarray,
                      window_s: float, duration_s: float, method: str = DEFAULT_METHOD,
                      k: int = 2) -> CallScores:
    """Pool one call's window outputs into :class:`CallScores`.

    ``outputs`` maps output names to arrays over the call's windows: sigmoid outputs
    ``(n_windows,)``, ``CATEGORY_OUTPUT`` ``(n_windows, len(CATEGORIES))``;
    ``EMERGENCY_OUTPUT`` and ``CATEGORY_OUTPUT`` are required. ``window_starts_s``
    ``(n_windows,)`` are the windows' starts in seconds, ``window_s`` their length and
    ``duration_s`` the call's length, in seconds.

    - Emergency and audio scores: ``method="max"`` (the default) takes the highest window,
      ``"topk_mean"`` the mean of the ``k`` highest. Max is the default because recall
      matters most: a short emergency episode inside a long normal call must not be
      averaged away; ``topk_mean`` trades a little of that for robustness to one spurious
      window.
    - Category: argmax of the mean category distribution over the same windows that make
      the emergency score (for ``"max"``, the strongest window's own distribution), so
      the category describes the evidence an analyst is pointed to rather than the
      normal speech around it; ``category_score`` is its probability there.
    - Prank score: mean over all windows. A prank is a property of the whole call, not an
      episode; averaging keeps one odd window from making a call a prank candidate.
    - Text score: the transcript is call-level, so every window carries the same value;
      the first window's is taken.
    - Evidence: the window with the highest emergency score (the earliest on ties), from
      its start to ``min(start + window_s, duration_s)``.

    Raises :class:`ConfigError` for a bad ``method``, ``k`` or ``window_s``, ValueError
    for outputs that do not match the windows (lengths, shapes, starts outside the call,
    no windows), and :class:`InferenceError` for NaN/Inf outputs.
    """
    _check_options(method=method, k=k, window_s=window_s)
    starts = np.asarray(window_starts_s, dtype=np.float64)
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in outputs.items()}
    _check_windows(outputs=arrays, window_starts_s=starts, duration_s=duration_s)

    emergency = arrays[EMERGENCY_OUTPUT]
    top = _top_windows(emergency, method=method, k=k)
    categories = arrays[CATEGORY_OUTPUT][top].mean(axis=0)
    category_index = int(np.argmax(categories))
    evidence = int(top[0])
    audio = arrays.get(AUDIO_OUTPUT)
    text = arrays.get(TEXT_OUTPUT)
    prank = arrays.get(PRANK_OUTPUT)
    return CallScores(
        emergency_score=float(emergency[top].mean()),
        audio_score=(None if audio is None
                     else float(audio[_top_windows(audio, method=method, k=k)].mean())),
        text_score=None if text is None else float(text[0]),
        prank_score=None if prank is None else float(prank.mean()),
        category=CATEGORIES[category_index],
        category_score=float(categories[category_index]),
        evidence_start_s=float(starts[evidence]),
        evidence_end_s=float(min(starts[evidence] + window_s, duration_s)),
        evidence_window_index=evidence,
        n_windows=len(starts),
    )
