"""Scoring one call: aggregation, caller hashing, the per-caller rule."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from models import DEFAULT_BUNDLE

from models.aggregate import CallScores
from models.serving import without_audio
from pipelines.rules import REPEAT_CALLER, PrankRules
from pipelines.scoring import ScoredCall, add_caller_reasons, caller_hash, score_call
from pipelines.settings import settings_from_options
from pipelines.triage import _AggregateFn, caller_group_key, failed_call_error
from tests.calls import flat_call
from transforms.errors import InferenceError
from transforms.records import CallError, CallRecord
from transforms.speech import MIN_SPEECH_S

RULES = PrankRules()


def _scores(emergency=0.1, audio=0.1, text=0.1, prank=0.1) -> CallScores:
    return CallScores(emergency_score=emergency, audio_score=audio, text_score=text,
                      prank_score=prank, category="fire", category_score=0.9,
                      evidence_start_s=0.0, evidence_end_s=7.0, evidence_window_index=0,
                      n_windows=1)


def _scored(call_id: str, *, emergency: float, caller: str = "h1") -> ScoredCall:
    return ScoredCall(record=CallRecord(call_id=call_id, audio_uri=f"{call_id}.wav",
                                        source_uri="m#row=1"),
                      caller_hash=caller, duration_s=7.0, sample_rate_hz=8000,
                      has_transcript=True, speech_s=5.0, audio_warnings=(),
                      scores=_scores(emergency=emergency),
                      reasons=())


def test_repeat_caller_flags_three_calmly_scored_calls_of_one_caller():
    calls = [_scored(f"c{i}", emergency=0.05) for i in range(3)]
    marked = add_caller_reasons(calls, rules=RULES)
    assert [dict(call.reasons) for call in marked] == [{REPEAT_CALLER: pytest.approx(2 / 3)}] * 3


def test_repeat_caller_spares_two_calls_and_callers_with_a_real_emergency():
    two = [_scored(f"c{i}", emergency=0.05) for i in range(2)]
    assert add_caller_reasons(two, rules=RULES) == two
    with_emergency = [_scored("a", emergency=0.05), _scored("b", emergency=0.05),
                      _scored("c", emergency=0.9)]
    assert all(call.reasons == () for call in add_caller_reasons(with_emergency,
                                                                       rules=RULES))


def test_calls_without_a_caller_id_are_never_one_repeat_caller():
    anonymous = [dataclasses.replace(_scored(f"c{i}", emergency=0.05), caller_hash=None)
                 for i in range(4)]
    groups: dict[str, list] = {}
    for key, call in map(caller_group_key, anonymous):
        groups.setdefault(key, []).append(call)

    assert len(groups) == 4
    for calls in groups.values():
        assert all(call.reasons == () for call in add_caller_reasons(calls, rules=RULES))


def test_caller_hash_is_keyed_stable_and_hides_the_number():
    number = "010-1234-5678"
    first = caller_hash(number, key=b"k1")
    assert first == caller_hash(f" {number} ", key=b"k1")
    assert first != caller_hash(number, key=b"k2")
    assert number not in first and "1234" not in first and len(first) == 32
    assert caller_hash(None, key=b"k1") is None and caller_hash("  ", key=b"k1") is None


def test_score_call_aggregates_and_drops_the_text_score_without_a_transcript():
    call = without_audio(flat_call("x", 2, tokens=()), speech_s=0.0)
    outputs = {"emergency": np.array([0.2, 0.9], np.float32),
               "audio_emergency": np.array([0.1, 0.8], np.float32),
               "text_emergency": np.array([0.5, 0.5], np.float32),
               "prank": np.array([0.1, 0.1], np.float32),
               "category": np.tile(np.eye(16, dtype=np.float32)[2], (2, 1))}

    scored = score_call(call, outputs, window_s=7.0, key=b"k", rules=RULES)

    assert scored.scores.emergency_score == pytest.approx(0.9)
    assert scored.scores.evidence_window_index == 1
    assert scored.scores.text_score is None and not scored.has_transcript
    # no words and no speech heard: silent, whatever the audio head says
    assert scored.speech_s == 0.0 and scored.silent
    heard = score_call(dataclasses.replace(call, speech_s=MIN_SPEECH_S), outputs, window_s=7.0,
                       key=b"k", rules=RULES)
    assert not heard.silent


def test_a_call_whose_outputs_are_not_finite_fails_with_an_inference_error():
    call = without_audio(flat_call("x", 2), speech_s=1.0)
    outputs = {"emergency": np.array([0.2, np.nan], np.float32),
               "category": np.tile(np.eye(16, dtype=np.float32)[2], (2, 1))}

    with pytest.raises(InferenceError, match="'emergency' holds NaN or Inf"):
        score_call(call, outputs, window_s=7.0, key=b"k", rules=RULES)


def test_a_call_the_model_answers_with_nan_lands_in_the_dead_letters_alone(tmp_path):
    key = tmp_path / "key"
    key.write_text("k", encoding="utf-8")
    settings = settings_from_options(PipelineOptions([
        "--archive=/a", f"--out={tmp_path}", f"--model={DEFAULT_BUNDLE}",
        f"--caller-hash-key-file={key}"]), environ={})
    category = np.tile(np.eye(16, dtype=np.float32)[2], (2, 1))
    good = (without_audio(flat_call("good", 2), speech_s=3.0),
            {"emergency": np.array([0.2, 0.9], np.float32), "category": category})
    bad = (without_audio(flat_call("bad", 2), speech_s=3.0),
           {"emergency": np.array([0.2, np.nan], np.float32), "category": category})

    with beam.Pipeline() as pipeline:
        scored = (pipeline | beam.Create([good, bad])
                  | beam.ParDo(_AggregateFn(settings)).with_exception_handling(
                      main_tag="calls", dead_letter_tag="errors", exc_class=InferenceError))
        assert_that(scored["calls"] | "Ids" >> beam.Map(lambda call: call.record.call_id),
                    equal_to(["good"]), label="Scored")
        assert_that(scored["errors"] | beam.Map(failed_call_error), equal_to([CallError(
            call_id="bad", source_uri="m#row=1", stage="inference", error_type="InferenceError",
            message="output 'emergency' holds NaN or Inf")]), label="Failed")
