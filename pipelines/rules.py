"""The verdict and the prank-candidate rules: each rule's option, score and doc, here once.

A rule is a pure function of scores that returns its reason score in [0, 1], or ``None``
when it does not fire; its thresholds are fields of :class:`PrankRules`, whose metadata
is the command-line help (:mod:`pipelines.options`). To add a rule, here: its name in
:data:`REASONS`, its thresholds in :class:`PrankRules`, its function, and a call to it in
:func:`call_reasons` (a rule of one call) or :func:`caller_reasons` (a rule over all the
run's calls of one caller). No model code here, so the command line reads the options
without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from transforms.errors import ConfigError
from transforms.speech import MIN_SPEECH_S

#: The prank reasons, as written to ``prank_reasons``.
TEXT_AUDIO_MISMATCH = "text_audio_mismatch"
REPEAT_CALLER = "repeat_caller"
MODEL_PRANK = "model_prank"
REASONS = (TEXT_AUDIO_MISMATCH, REPEAT_CALLER, MODEL_PRANK)

#: The verdicts, as written to ``flag``.
FLAGS = ("emergency", "prank_candidate", "silent", "normal")

Reason = tuple[str, float]


def _option(default: float | int, help_text: str):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class PrankRules:
    """Thresholds of the prank-candidate rules (scores are probabilities in [0, 1])."""

    mismatch_text_min: float = _option(
        0.7, f"{TEXT_AUDIO_MISMATCH}: lowest text score of a transcript claiming an emergency")
    mismatch_audio_max: float = _option(
        0.3, f"{TEXT_AUDIO_MISMATCH}: highest audio score of a recording not carrying it")
    repeat_min_calls: int = _option(
        3, f"{REPEAT_CALLER}: fewest calls of one caller in the run (>= 2)")
    repeat_max_emergency: float = _option(
        0.3, f"{REPEAT_CALLER}: highest emergency score any of those calls may have")
    model_min: float = _option(0.5, f"{MODEL_PRANK}: lowest prank score of the model")
    flag_min: float = _option(
        0.5, "lowest reason score that makes a call a prank candidate")

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "repeat_min_calls":
                if value < 2:
                    raise ConfigError(f"repeat_min_calls={value} must be >= 2")
            elif not 0.0 <= value <= 1.0:
                raise ConfigError(f"{field.name}={value} must be in [0, 1]")


def text_audio_mismatch(*, text_score: Optional[float], audio_score: Optional[float],
                        rules: PrankRules) -> Optional[float]:
    """The transcript claims an emergency (text score ≥ ``mismatch_text_min``) that the
    audio does not carry (audio score ≤ ``mismatch_audio_max``): ``text - audio``."""
    if text_score is None or audio_score is None:
        return None
    if text_score >= rules.mismatch_text_min and audio_score <= rules.mismatch_audio_max:
        return text_score - audio_score
    return None


def model_prank(*, prank_score: Optional[float], rules: PrankRules) -> Optional[float]:
    """The model's prank score, when it is ≥ ``model_min``."""
    if prank_score is not None and prank_score >= rules.model_min:
        return prank_score
    return None


def repeat_caller(*, emergency_scores: Sequence[float], rules: PrankRules) -> Optional[float]:
    """One caller's calls of the run (their ``emergency_scores``): at least
    ``repeat_min_calls`` of them and none above ``repeat_max_emergency``. The score grows
    with the number of calls n, ``1 - 1/n`` (3 calls → 0.67, 5 → 0.8)."""
    if len(emergency_scores) < rules.repeat_min_calls:
        return None
    if max(emergency_scores) > rules.repeat_max_emergency:
        return None
    return 1.0 - 1.0 / len(emergency_scores)


def caller_reasons(*, emergency_scores: Sequence[float], rules: PrankRules
                   ) -> tuple[Reason, ...]:
    """The reasons every call of one caller carries, from all the run's calls of that
    caller (their ``emergency_scores``), with their scores."""
    score = repeat_caller(emergency_scores=emergency_scores, rules=rules)
    return () if score is None else ((REPEAT_CALLER, score),)


def is_silent(*, has_transcript: bool, speech_s: Optional[float]) -> bool:
    """A call with no transcript words and (measured) less than :data:`MIN_SPEECH_S` of
    speech: a pocket dial, an open line, or a caller who cannot speak."""
    return not has_transcript and speech_s is not None and speech_s < MIN_SPEECH_S


def call_reasons(*, text_score: Optional[float], audio_score: Optional[float],
                 prank_score: Optional[float], rules: PrankRules) -> tuple[Reason, ...]:
    """The reasons one call carries on its own, with their scores."""
    fired = ((TEXT_AUDIO_MISMATCH, text_audio_mismatch(
                  text_score=text_score, audio_score=audio_score, rules=rules)),
             (MODEL_PRANK, model_prank(prank_score=prank_score, rules=rules)))
    return tuple((name, score) for name, score in fired if score is not None)


def reported_prank_score(*, reasons: Sequence[Reason], model_prank_score: Optional[float]
                         ) -> float:
    """The ``prank_score`` column: the largest reason score, or the model's own prank
    score when that is larger (it shows how close a call came even when no rule fired)."""
    return max([score for _, score in reasons] + [model_prank_score or 0.0])


def verdict(*, emergency_score: float, reasons: Sequence[Reason], emergency_threshold: float,
            rules: PrankRules, silent: bool = False) -> str:
    """The ``flag``, one of :data:`FLAGS`: a ``silent`` call is never an emergency on the
    audio alone; an emergency is never a prank; a prank candidate has a reason scoring at
    least ``flag_min``."""
    if silent:
        return "silent"
    if emergency_score >= emergency_threshold:
        return "emergency"
    if max((score for _, score in reasons), default=0.0) >= rules.flag_min:
        return "prank_candidate"
    return "normal"
