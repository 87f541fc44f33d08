"""The prank rules and the verdict (pipelines.rules)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.rules import (MODEL_PRANK, REPEAT_CALLER, TEXT_AUDIO_MISMATCH, PrankRules,
                             call_reasons, caller_reasons, is_silent, repeat_caller,
                             reported_prank_score, verdict)
from transforms.errors import ConfigError
from transforms.speech import MIN_SPEECH_S

RULES = PrankRules()


def _reasons(*, text=0.1, audio=0.1, prank=0.1):
    return dict(call_reasons(text_score=text, audio_score=audio, prank_score=prank,
                             rules=RULES))


def test_mismatch_reason_needs_high_text_and_low_audio():
    assert _reasons(text=0.9, audio=0.1) == {TEXT_AUDIO_MISMATCH: pytest.approx(0.8)}
    assert _reasons(text=0.9, audio=0.6) == {}
    assert _reasons(text=0.5, audio=0.0) == {}


def test_no_transcript_never_claims_a_mismatch():
    assert _reasons(text=None, audio=0.0) == {}


def test_model_prank_reason_uses_the_prank_head():
    assert _reasons(prank=0.75) == {MODEL_PRANK: 0.75}
    assert _reasons(prank=0.49) == {}
    assert _reasons(prank=None) == {}


def test_repeat_caller_needs_enough_calmly_scored_calls():
    assert repeat_caller(emergency_scores=[0.05] * 3, rules=RULES) == pytest.approx(2 / 3)
    assert repeat_caller(emergency_scores=[0.05] * 5, rules=RULES) == pytest.approx(0.8)
    assert repeat_caller(emergency_scores=[0.05] * 2, rules=RULES) is None
    assert repeat_caller(emergency_scores=[0.05, 0.05, 0.9], rules=RULES) is None


def test_verdict_prefers_emergency_over_prank():
    prank = [(MODEL_PRANK, 0.9)]
    assert verdict(emergency_score=0.9, reasons=prank, emergency_threshold=0.5,
                   rules=RULES) == "emergency"
    assert verdict(emergency_score=0.1, reasons=[(MODEL_PRANK, 0.6)], emergency_threshold=0.5,
                   rules=RULES) == "prank_candidate"
    assert verdict(emergency_score=0.1, reasons=[(MODEL_PRANK, 0.2)], emergency_threshold=0.5,
                   rules=RULES) == "normal"
    assert verdict(emergency_score=0.1, reasons=(), emergency_threshold=0.5,
                   rules=RULES) == "normal"


def test_a_score_exactly_at_a_threshold_is_flagged():
    assert verdict(emergency_score=0.5, reasons=(), emergency_threshold=0.5,
                   rules=RULES) == "emergency"
    assert verdict(emergency_score=0.1, reasons=[(MODEL_PRANK, RULES.flag_min)],
                   emergency_threshold=0.5, rules=RULES) == "prank_candidate"
    assert verdict(emergency_score=np.nextafter(0.5, 0), reasons=(),
                   emergency_threshold=0.5, rules=RULES) == "normal"


def test_a_silent_call_is_never_an_emergency():
    assert verdict(emergency_score=0.9, reasons=[(MODEL_PRANK, 0.9)], emergency_threshold=0.3,
                   rules=RULES, silent=True) == "silent"


def test_the_reported_prank_score_shows_how_close_a_call_came():
    assert reported_prank_score(reasons=[(TEXT_AUDIO_MISMATCH, 0.8)],
                                model_prank_score=0.3) == pytest.approx(0.8)
    assert reported_prank_score(reasons=(), model_prank_score=0.3) == pytest.approx(0.3)
    assert reported_prank_score(reasons=(), model_prank_score=None) == 0.0


@pytest.mark.parametrize("field, value", [("mismatch_text_min", 1.5), ("repeat_min_calls", 1),
                                          ("flag_min", -0.1)])
def test_rules_reject_out_of_range_thresholds(field, value):
    with pytest.raises(ConfigError, match=field):
        PrankRules(**{field: value})


def test_caller_reasons_carry_the_repeat_caller_score():
    assert caller_reasons(emergency_scores=[0.05] * 4, rules=RULES) == (
        (REPEAT_CALLER, pytest.approx(0.75)),)
    assert caller_reasons(emergency_scores=[0.05], rules=RULES) == ()


def test_silent_needs_no_words_and_measured_silence():
    assert is_silent(has_transcript=False, speech_s=0.0)
    assert not is_silent(has_transcript=False, speech_s=MIN_SPEECH_S)
    assert not is_silent(has_transcript=True, speech_s=0.0)
    assert not is_silent(has_transcript=False, speech_s=None)  # not measured
