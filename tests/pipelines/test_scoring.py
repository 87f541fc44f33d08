"""Pure scoring pieces: prank rules, caller hashing, verdicts, window splitting."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.testing.util import assert_that, equal_to

from models.aggregate import CallScores
from pipelines.scoring import (
    MODEL_PRANK,
    REPEAT_CALLER,
    TEXT_AUDIO_MISMATCH,
    PrankRules,
    ScoredCall,
    WindowFailure,
    WindowModelHandler,
    add_repeat_caller_reason,
    call_metadata,
    call_prank_reasons,
    caller_hash,
    split_windows,
    verdict,
    window_failure_message,
)
from pipelines.triage import DEFAULT_BUNDLE
from transforms.errors import ConfigError
from transforms.features import CallFeatures
from transforms.records import CallRecord
from transforms.spec import FeatureConfig

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
                      has_transcript=True, scores=_scores(emergency=emergency), reasons=())


def test_mismatch_reason_needs_high_text_and_low_audio():
    reasons = dict(call_prank_reasons(_scores(text=0.9, audio=0.1), rules=RULES))
    assert reasons == {TEXT_AUDIO_MISMATCH: pytest.approx(0.8)}
    assert call_prank_reasons(_scores(text=0.9, audio=0.6), rules=RULES) == ()
    assert call_prank_reasons(_scores(text=0.5, audio=0.0), rules=RULES) == ()


def test_no_transcript_never_claims_a_mismatch():
    scores = dataclasses.replace(_scores(audio=0.0), text_score=None)
    assert call_prank_reasons(scores, rules=RULES) == ()


def test_model_prank_reason_uses_the_prank_head():
    assert dict(call_prank_reasons(_scores(prank=0.75), rules=RULES)) == {MODEL_PRANK: 0.75}
    assert call_prank_reasons(_scores(prank=0.49), rules=RULES) == ()


def test_repeat_caller_flags_three_calmly_scored_calls_of_one_caller():
    calls = [_scored(f"c{i}", emergency=0.05) for i in range(3)]
    marked = add_repeat_caller_reason(calls, rules=RULES)
    assert [dict(call.reasons) for call in marked] == [{REPEAT_CALLER: pytest.approx(2 / 3)}] * 3


def test_repeat_caller_spares_two_calls_and_callers_with_a_real_emergency():
    two = [_scored(f"c{i}", emergency=0.05) for i in range(2)]
    assert add_repeat_caller_reason(two, rules=RULES) == two
    with_emergency = [_scored("a", emergency=0.05), _scored("b", emergency=0.05),
                      _scored("c", emergency=0.9)]
    assert all(call.reasons == () for call in add_repeat_caller_reason(with_emergency,
                                                                       rules=RULES))


def test_verdict_prefers_emergency_over_prank():
    assert verdict(emergency_score=0.9, prank_score=0.9, emergency_threshold=0.5,
                   rules=RULES) == "emergency"
    assert verdict(emergency_score=0.1, prank_score=0.6, emergency_threshold=0.5,
                   rules=RULES) == "prank_candidate"
    assert verdict(emergency_score=0.1, prank_score=0.2, emergency_threshold=0.5,
                   rules=RULES) == "normal"


def test_caller_hash_is_keyed_stable_and_hides_the_number():
    number = "010-1234-5678"
    first = caller_hash(number, key=b"k1")
    assert first == caller_hash(f" {number} ", key=b"k1")
    assert first != caller_hash(number, key=b"k2")
    assert number not in first and "1234" not in first and len(first) == 32
    assert caller_hash(None, key=b"k1") is None and caller_hash("  ", key=b"k1") is None


@pytest.mark.parametrize("field, value", [("mismatch_text_min", 1.5), ("repeat_min_calls", 1),
                                          ("flag_min", -0.1)])
def test_rules_reject_out_of_range_thresholds(field, value):
    with pytest.raises(ConfigError, match=field):
        PrankRules(**{field: value})


def test_split_windows_keys_every_window_and_metadata_drops_the_audio():
    log_mel = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    call = CallFeatures(record=CallRecord(call_id="x", audio_uri="x.wav", source_uri="x.wav"),
                        log_mel=log_mel, window_starts_s=np.array([0, 7, 14], np.float32),
                        tokens=("불",), duration_s=20.0, sample_rate_hz=8000, n_channels=1)
    windows = list(split_windows(call))
    assert [(key, index) for key, (index, _) in windows] == [("x", 0), ("x", 1), ("x", 2)]
    np.testing.assert_array_equal(windows[1][1][1].log_mel[0], log_mel[1])
    assert windows[2][1][1].window_starts_s.tolist() == [14.0]
    key, metadata = call_metadata(call)
    assert key == "x" and metadata.log_mel.size == 0
    assert metadata.window_starts_s.tolist() == [0, 7, 14] and metadata.tokens == ("불",)


def test_window_failure_message_names_the_failed_windows():
    outputs = [(1, {"emergency": 0.1}), (0, WindowFailure("bad shape"))]
    assert window_failure_message(outputs) == "window 0: bad shape"
    assert window_failure_message([(0, {"emergency": 0.1})]) is None


class _RecordingHandler(WindowModelHandler):
    """The real handler, noting the size of every batch RunInference hands it."""

    batch_sizes: list[int] = []

    def run_inference(self, batch, model, inference_args=None):
        type(self).batch_sizes.append(len(batch))
        return super().run_inference(batch, model, inference_args)


def test_run_inference_hands_the_model_full_batches():
    config = FeatureConfig()
    log_mel = np.full((5,) + (config.n_mels, config.n_frames), -40.0, np.float32)
    call = CallFeatures(record=CallRecord(call_id="x", audio_uri="x.wav", source_uri="x.wav"),
                        log_mel=log_mel, window_starts_s=np.arange(5, dtype=np.float32) * 7,
                        tokens=("불",), duration_s=35.0, sample_rate_hz=8000, n_channels=1)
    _RecordingHandler.batch_sizes = []
    with beam.Pipeline() as pipeline:
        scored = (pipeline
                  | beam.Create([call])
                  | beam.FlatMap(split_windows)
                  | RunInference(KeyedModelHandler(
                      _RecordingHandler(DEFAULT_BUNDLE, max_batch_size=2))))
        assert_that(scored | beam.Map(lambda keyed: (keyed[0], keyed[1][0])),
                    equal_to([("x", index) for index in range(5)]))
    assert sorted(_RecordingHandler.batch_sizes, reverse=True) == [2, 2, 1]
