"""Scoring one call: its window outputs pooled into call scores, its caller's id
hashed, and the prank rules applied (:mod:`pipelines.rules`). Pure functions; the Beam
wiring is in :mod:`pipelines.triage`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Mapping, Optional, Sequence

import numpy as np

from models.aggregate import CallScores, aggregate_windows
from pipelines.rules import PrankRules, Reason, call_reasons, caller_reasons, is_silent
from transforms.features import CallFeatures
from transforms.records import CallRecord


@dataclasses.dataclass(frozen=True)
class ScoredCall:
    """One call after aggregation, before the per-caller prank rule."""

    record: CallRecord
    caller_hash: Optional[str]
    duration_s: float
    sample_rate_hz: int
    has_transcript: bool
    speech_s: Optional[float]
    audio_warnings: tuple[str, ...]
    scores: CallScores
    reasons: tuple[Reason, ...]

    @property
    def silent(self) -> bool:
        """:func:`pipelines.rules.is_silent`."""
        return is_silent(has_transcript=self.has_transcript, speech_s=self.speech_s)


def caller_hash(caller_id: Optional[str], *, key: bytes) -> Optional[str]:
    """Keyed hash (HMAC-SHA256, 32 hex chars) of a caller id; None for no caller."""
    if caller_id is None or not caller_id.strip():
        return None
    digest = hmac.new(key, caller_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:32]


def score_call(
    call: CallFeatures,
    outputs: Mapping[str, np.ndarray],
    *,
    window_s: float,
    key: bytes,
    rules: PrankRules,
) -> ScoredCall:
    """Aggregate one call's window ``outputs`` ({name: (n_windows, ...)}, in window order)
    and apply the per-call prank rules. Raises InferenceError for NaN/Inf outputs
    (:func:`models.aggregate.aggregate_windows`)."""
    has_transcript = bool(call.tokens)
    scores = aggregate_windows(
        outputs=outputs, window_starts_s=call.window_starts_s, window_s=window_s,
        duration_s=call.duration_s)
    if not has_transcript:
        scores = dataclasses.replace(scores, text_score=None)
    return ScoredCall(
        record=call.record,
        caller_hash=caller_hash(call.record.caller_id, key=key),
        duration_s=call.duration_s,
        sample_rate_hz=call.sample_rate_hz,
        has_transcript=has_transcript,
        speech_s=call.speech_s,
        audio_warnings=call.audio_warnings,
        scores=scores,
        reasons=call_reasons(text_score=scores.text_score, audio_score=scores.audio_score,
                             prank_score=scores.prank_score, rules=rules),
    )


def add_caller_reasons(calls: Sequence[ScoredCall], *, rules: PrankRules) -> list[ScoredCall]:
    """All the run's calls of ONE caller, each with the reasons of the per-caller rules
    (:func:`pipelines.rules.caller_reasons`) added to its own."""
    reasons = caller_reasons(emergency_scores=[call.scores.emergency_score for call in calls],
                             rules=rules)
    if not reasons:
        return list(calls)
    return [dataclasses.replace(call, reasons=call.reasons + reasons) for call in calls]
