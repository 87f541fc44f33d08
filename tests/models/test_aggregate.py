"""Per-call aggregation of window outputs, on hand-made arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from models.aggregate import CallScores, aggregate_windows
from transforms.errors import ConfigError, InferenceError
from transforms.spec import (
    AUDIO_OUTPUT,
    CATEGORIES,
    CATEGORY_OUTPUT,
    EMERGENCY_OUTPUT,
    PRANK_OUTPUT,
    TEXT_OUTPUT,
)


def _one_hot(indices: list[int], *, weight: float = 0.8) -> np.ndarray:
    """Category distributions (n, len(CATEGORIES)): ``weight`` on the index, rest spread."""
    rest = (1.0 - weight) / (len(CATEGORIES) - 1)
    dist = np.full((len(indices), len(CATEGORIES)), rest, dtype=np.float32)
    dist[np.arange(len(indices)), indices] = weight
    return dist


def _outputs(emergency: list[float], categories: list[int], **extra: list[float]
             ) -> dict[str, np.ndarray]:
    outputs = {EMERGENCY_OUTPUT: np.array(emergency, dtype=np.float32),
               CATEGORY_OUTPUT: _one_hot(categories)}
    outputs.update({name: np.array(values, dtype=np.float32) for name, values in extra.items()})
    return outputs


FIRE = CATEGORIES.index("fire")
INDOOR = CATEGORIES.index("normal_indoor")


def test_max_and_topk_mean_on_known_scores() -> None:
    outputs = _outputs([0.1, 0.9, 0.5, 0.7], [INDOOR, FIRE, INDOOR, INDOOR])
    starts = np.array([0.0, 7.0, 14.0, 21.0])
    by_max = aggregate_windows(outputs=outputs, window_starts_s=starts, window_s=7.0,
                               duration_s=28.0)
    by_top2 = aggregate_windows(outputs=outputs, window_starts_s=starts, window_s=7.0,
                                duration_s=28.0, method="topk_mean", k=2)
    by_top3 = aggregate_windows(outputs=outputs, window_starts_s=starts, window_s=7.0,
                                duration_s=28.0, method="topk_mean", k=3)
    assert by_max.emergency_score == pytest.approx(0.9)
    assert by_top2.emergency_score == pytest.approx(0.8)
    assert by_top3.emergency_score == pytest.approx(0.7)
    # max: the strongest window's category; top-2 pools fire (0.8) with indoor (0.8):
    # both 0.4 + spread, tie broken by category order (fire precedes normal_indoor).
    assert (by_max.category, by_max.category_score) == ("fire", pytest.approx(0.8))
    assert by_top2.category == "fire"
    # top-3 pools fire, indoor (window 3) and indoor (window 2): indoor wins.
    assert by_top3.category == "normal_indoor"
    assert by_top3.category_score == pytest.approx((0.8 * 2 + 0.2 / 15) / 3)
    # the evidence is always the strongest window
    for scores in (by_max, by_top2, by_top3):
        assert (scores.evidence_window_index, scores.evidence_start_s,
                scores.evidence_end_s) == (1, 7.0, 14.0)
        assert scores.n_windows == 4


def test_short_emergency_in_long_normal_call_is_not_averaged_away() -> None:
    n_windows = 60
    emergency = [0.05] * n_windows
    categories = [INDOOR] * n_windows
    emergency[37], categories[37] = 0.97, FIRE
    starts = np.arange(n_windows) * 3.5  # 7-s windows, hop 3.5 s
    scores = aggregate_windows(outputs=_outputs(emergency, categories),
                               window_starts_s=starts, window_s=7.0,
                               duration_s=float(starts[-1] + 7.0))
    assert scores.emergency_score == pytest.approx(0.97)
    assert scores.category == "fire"
    assert scores.evidence_window_index == 37
    assert scores.evidence_start_s == pytest.approx(37 * 3.5)
    assert scores.evidence_end_s == pytest.approx(37 * 3.5 + 7.0)
    assert scores.audio_score is None and scores.text_score is None
    assert scores.prank_score is None


def test_multimodal_heads_pooled_as_documented() -> None:
    outputs = _outputs(
        [0.2, 0.6, 0.4], [INDOOR, FIRE, FIRE],
        **{AUDIO_OUTPUT: [0.9, 0.1, 0.3], TEXT_OUTPUT: [0.75, 0.75, 0.75],
           PRANK_OUTPUT: [0.9, 0.0, 0.3]})
    scores = aggregate_windows(outputs=outputs, window_starts_s=np.array([0.0, 7.0, 14.0]),
                               window_s=7.0, duration_s=21.0)
    assert scores.audio_score == pytest.approx(0.9)  # its own max, not the evidence window's
    assert scores.text_score == pytest.approx(0.75)
    assert scores.prank_score == pytest.approx(0.4)  # mean over all windows
    top2 = aggregate_windows(outputs=outputs, window_starts_s=np.array([0.0, 7.0, 14.0]),
                             window_s=7.0, duration_s=21.0, method="topk_mean", k=2)
    assert top2.audio_score == pytest.approx(0.6)


def test_single_window_with_end_clipped_to_duration() -> None:
    scores = aggregate_windows(outputs=_outputs([0.3], [INDOOR]),
                               window_starts_s=np.array([0.0]), window_s=7.0, duration_s=2.5,
                               method="topk_mean", k=5)
    assert scores == CallScores(
        emergency_score=pytest.approx(0.3), audio_score=None, text_score=None,
        prank_score=None, category="normal_indoor", category_score=pytest.approx(0.8),
        evidence_start_s=0.0, evidence_end_s=2.5, evidence_window_index=0, n_windows=1)


def test_last_window_end_clipped() -> None:
    scores = aggregate_windows(outputs=_outputs([0.1, 0.8], [INDOOR, FIRE]),
                               window_starts_s=np.array([0.0, 7.0]), window_s=7.0,
                               duration_s=10.25)
    assert (scores.evidence_start_s, scores.evidence_end_s) == (7.0, 10.25)


def test_ties_pick_the_earliest_window() -> None:
    scores = aggregate_windows(outputs=_outputs([0.4, 0.9, 0.9], [INDOOR, FIRE, INDOOR]),
                               window_starts_s=np.array([0.0, 7.0, 14.0]), window_s=7.0,
                               duration_s=21.0)
    assert scores.evidence_window_index == 1
    assert scores.category == "fire"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "mean"}, ConfigError, "method='mean'"),
    ({"k": 0, "method": "topk_mean"}, ConfigError, "k=0"),
    ({"window_s": 0.0}, ConfigError, "window_s=0.0"),
    ({"duration_s": -1.0}, ValueError, "duration_s=-1.0"),
    ({"window_starts_s": np.array([0.0, 3.5, 7.0])}, ValueError,
     "'category' has shape (2, 16), expected (3, 16)"),
    ({"window_starts_s": np.array([], dtype=float)}, ValueError, "n_windows >= 1"),
    ({"window_starts_s": np.array([0.0, 30.0])}, ValueError, "[30.0] s are outside"),
    ({"outputs": {EMERGENCY_OUTPUT: np.array([0.1, 0.2])}}, ValueError,
     "lack ['category']"),
    ({"outputs": _outputs([0.1, 0.2], [0, 0], **{PRANK_OUTPUT: [0.1]})}, ValueError,
     "'prank' has shape (1,), expected (2,)"),
    ({"outputs": _outputs([0.1, float("nan")], [0, 0])}, InferenceError,
     "'emergency' holds NaN"),
])
def test_validation_errors_name_the_bad_value(kwargs: dict, error: type, message: str) -> None:
    arguments = {"outputs": _outputs([0.1, 0.2], [0, 0]),
                 "window_starts_s": np.array([0.0, 7.0]), "window_s": 7.0,
                 "duration_s": 14.0} | kwargs
    with pytest.raises(error) as info:
        aggregate_windows(**arguments)
    assert message in str(info.value)
