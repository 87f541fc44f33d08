"""Scoring pieces: prank rules, caller hashing, verdicts, the RunInference handler."""

from __future__ import annotations

import dataclasses
import json
import shutil

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.ml.inference.base import RunInference
from apache_beam.testing.util import assert_that, equal_to

from models.aggregate import CallScores
from pipelines import scoring
from pipelines.scoring import (
    METRICS_NAMESPACE,
    MODEL_PRANK,
    REPEAT_CALLER,
    TEXT_AUDIO_MISMATCH,
    CallModelHandler,
    InferenceFailure,
    PrankRules,
    ScoredCall,
    add_repeat_caller_reason,
    call_prank_reasons,
    caller_hash,
    score_call,
    verdict,
    without_audio,
)
from models import DEFAULT_BUNDLE
from pipelines.triage import caller_group_key
from transforms.errors import ConfigError
from transforms.features import CallFeatures, window_inputs
from transforms.records import CallRecord
from transforms.spec import LOGMEL_INPUT, TOKENS_INPUT, FeatureConfig
from transforms.speech import MIN_SPEECH_S, speech_probes
from transforms.text import Vocabulary

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


def test_a_score_exactly_at_a_threshold_is_flagged():
    assert verdict(emergency_score=0.5, prank_score=0.0, emergency_threshold=0.5,
                   rules=RULES) == "emergency"
    assert verdict(emergency_score=0.1, prank_score=RULES.flag_min, emergency_threshold=0.5,
                   rules=RULES) == "prank_candidate"
    assert verdict(emergency_score=np.nextafter(0.5, 0), prank_score=0.0,
                   emergency_threshold=0.5, rules=RULES) == "normal"


def test_calls_without_a_caller_id_are_never_one_repeat_caller():
    anonymous = [dataclasses.replace(_scored(f"c{i}", emergency=0.05), caller_hash=None)
                 for i in range(4)]
    groups: dict[str, list] = {}
    for key, call in map(caller_group_key, anonymous):
        groups.setdefault(key, []).append(call)

    assert len(groups) == 4
    for calls in groups.values():
        assert all(call.reasons == () for call in add_repeat_caller_reason(calls, rules=RULES))


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


def _call(call_id: str, n_windows: int, *, level_db: float = -40.0,
          tokens: tuple[str, ...] = ("불",)) -> CallFeatures:
    config = FeatureConfig()
    return CallFeatures(
        record=CallRecord(call_id=call_id, audio_uri=f"{call_id}.wav", source_uri="m#row=1"),
        log_mel=np.full((n_windows, config.n_mels, config.n_frames), level_db, np.float32),
        window_starts_s=np.arange(n_windows, dtype=np.float32) * config.window_s,
        tokens=tokens, duration_s=n_windows * config.window_s, sample_rate_hz=8000,
        n_channels=1)


def test_without_audio_keeps_everything_but_the_log_mel_and_the_speech_probes():
    call = dataclasses.replace(_call("x", 3), speech=speech_probes(
        np.full(16_000, 0.1, np.float32), sample_rate_hz=16_000))
    kept = without_audio(call, speech_s=1.5)
    assert kept.log_mel.shape == (0,) + call.log_mel.shape[1:]
    assert kept.window_starts_s.tolist() == [0, 7, 14] and kept.tokens == ("불",)
    assert kept.record == call.record and kept.duration_s == call.duration_s
    assert kept.speech is None and kept.speech_s == 1.5


class _RecordingHandler(CallModelHandler):
    """The real handler, noting every batch RunInference hands it and what it returns
    (class attributes: the in-process DirectRunner runs a pickled copy of the handler)."""

    batches: list[list[str]] = []
    results: dict[str, tuple] = {}

    def run_inference(self, batch, model, inference_args=None):
        type(self).batches.append([call.record.call_id for call in batch])
        predictions = super().run_inference(batch, model, inference_args)
        type(self).results.update({call.record.call_id: (call, outputs)
                                   for call, outputs in predictions})
        return predictions


def _run_handler(calls: list[CallFeatures], *, max_batch_size: int) -> dict[str, tuple]:
    """Run the calls through RunInference with the bundled model; ``{call_id: prediction}``."""
    _RecordingHandler.batches, _RecordingHandler.results = [], {}
    pipeline = beam.Pipeline()
    predicted = (pipeline
                 | beam.Create(calls)
                 | RunInference(_RecordingHandler(DEFAULT_BUNDLE,
                                                  max_batch_size=max_batch_size)))
    assert_that(predicted | beam.Map(lambda pair: pair[0].record.call_id),
                equal_to([call.record.call_id for call in calls]))
    result = pipeline.run()
    result.wait_until_finish()
    _RecordingHandler.scored_windows = {
        counter.key.metric.name: counter.committed
        for counter in result.metrics().query()["counters"]
        if counter.key.metric.namespace == METRICS_NAMESPACE
        and counter.key.metric.name.startswith("windows_scored_")}
    return _RecordingHandler.results


def test_run_inference_batches_whole_calls_by_their_windows():
    calls = [_call("a", 3), _call("b", 2), _call("c", 1), _call("d", 4)]

    results = _run_handler(calls, max_batch_size=4)

    # Whole calls, at most 4 windows a batch, and no two batches that would fit in one.
    sizes = {call.record.call_id: call.n_windows for call in calls}
    windows = [sum(sizes[call_id] for call_id in batch) for batch in _RecordingHandler.batches]
    assert sorted(sum(_RecordingHandler.batches, [])) == ["a", "b", "c", "d"]
    assert len(_RecordingHandler.batches) < len(calls)
    assert all(count <= 4 for count in windows)
    assert all(first + second > 4 for first, second in zip(windows, windows[1:]))
    assert sum(_RecordingHandler.scored_windows.values()) == 10
    assert len(_RecordingHandler.scored_windows) == 1  # one precision per worker
    for call in calls:
        kept, outputs = results[call.record.call_id]
        assert kept.log_mel.size == 0
        assert outputs["emergency"].shape == (call.n_windows,)
        assert outputs["category"].shape[0] == call.n_windows


def test_a_call_longer_than_a_batch_is_scored_in_a_batch_of_its_own():
    calls = [_call("long", 5), _call("short", 1)]

    results = _run_handler(calls, max_batch_size=2)

    assert [batch for batch in _RecordingHandler.batches if batch] == [["long"], ["short"]]
    assert results["long"][1]["emergency"].shape == (5,)
    assert results["short"][1]["emergency"].shape == (1,)


def test_run_inference_outputs_match_scoring_each_call_alone():
    loud, quiet = _call("loud", 2, level_db=-10.0), _call("quiet", 3, level_db=-90.0)

    together = _run_handler([loud, quiet], max_batch_size=8)
    alone = _run_handler([quiet], max_batch_size=8)

    np.testing.assert_allclose(together["quiet"][1]["emergency"], alone["quiet"][1]["emergency"],
                               atol=1e-5)
    assert not np.allclose(together["quiet"][1]["emergency"][0],
                           together["loud"][1]["emergency"][0])


def test_a_call_the_model_rejects_fails_alone():
    good, bad = _call("good", 2), _call("bad", 2)
    bad.log_mel[1, 0, 0] = np.nan

    results = _run_handler([good, bad], max_batch_size=8)

    assert isinstance(results["bad"][1], InferenceFailure)
    assert "NaN" in results["bad"][1].message
    assert sum(_RecordingHandler.scored_windows.values()) == 2  # the good call's windows
    assert results["good"][1]["emergency"].shape == (2,)


def test_score_call_aggregates_and_drops_the_text_score_without_a_transcript():
    call = without_audio(_call("x", 2, tokens=()), speech_s=0.0)
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
    assert verdict(emergency_score=0.9, prank_score=0.0, emergency_threshold=0.3, rules=RULES,
                   silent=scored.silent) == "silent"
    heard = score_call(dataclasses.replace(call, speech_s=MIN_SPEECH_S), outputs, window_s=7.0,
                       key=b"k", rules=RULES)
    assert not heard.silent
    assert verdict(emergency_score=0.9, prank_score=0.0, emergency_threshold=0.3, rules=RULES,
                   silent=heard.silent) == "emergency"


def test_handler_rejects_bad_settings():
    with pytest.raises(ConfigError, match="max_batch_size=0"):
        CallModelHandler(DEFAULT_BUNDLE, max_batch_size=0)
    with pytest.raises(ConfigError, match="precision='half'"):
        CallModelHandler(DEFAULT_BUNDLE, precision="half")


def _shipped_bundle_with_check(tmp_path, *, prank_decisions_changed: int) -> str:
    """A copy of the shipped bundle whose recorded bfloat16 check changed
    ``prank_decisions_changed`` prank decisions and no emergency decision."""
    copy = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, copy)
    manifest = json.loads((copy / "bundle.json").read_text(encoding="utf-8"))
    manifest["precision_checks"]["bfloat16"]["decisions_changed"] = {
        "category": 0, "emergency": 0, "prank": prank_decisions_changed}
    (copy / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    return str(copy)


@pytest.mark.parametrize("native, expected", [(True, "bfloat16"), (False, "float32"),
                                               (None, "float32")])
def test_auto_loads_the_shipped_model_in_bfloat16_only_where_the_cpu_has_it(
        monkeypatch, tmp_path, native, expected):
    # the CPU's flags are the one thing a test cannot change, so they are stubbed here
    monkeypatch.setattr(scoring, "native_bfloat16", lambda: native)
    path = _shipped_bundle_with_check(tmp_path, prank_decisions_changed=0)

    bundle = CallModelHandler(path).load_model()

    assert bundle.precision == expected
    assert bundle.model.get_layer("audio_conv2").compute_dtype == expected
    assert CallModelHandler(path, precision="float32").load_model().precision == (
        "float32")


def test_auto_keeps_float32_when_bfloat16_changed_a_decision(monkeypatch, tmp_path):
    monkeypatch.setattr(scoring, "native_bfloat16", lambda: True)
    path = _shipped_bundle_with_check(tmp_path, prank_decisions_changed=1)

    bundle = CallModelHandler(path).load_model()

    assert bundle.precision == "float32"
    assert bundle.model.get_layer("audio_conv2").compute_dtype == "float32"


def test_window_inputs_stack_calls_in_order_and_leave_one_call_uncopied():
    vocabulary = Vocabulary(tokens=("<pad>", "<oov>", "불", "강도"))
    first, second = _call("a", 2, level_db=-10.0, tokens=("불",)), _call("b", 1, tokens=("강도",))
    config = FeatureConfig()

    inputs = window_inputs([first, second], vocab=vocabulary, config=config,
                           input_names=(LOGMEL_INPUT, TOKENS_INPUT))
    alone = window_inputs([first], vocab=vocabulary, config=config,
                          input_names=(LOGMEL_INPUT,))

    assert inputs[LOGMEL_INPUT].shape == (3, config.n_mels, config.n_frames, 1)
    np.testing.assert_array_equal(inputs[LOGMEL_INPUT][:2, ..., 0], first.log_mel)
    np.testing.assert_array_equal(inputs[LOGMEL_INPUT][2, ..., 0], second.log_mel[0])
    np.testing.assert_array_equal(inputs[TOKENS_INPUT][:, 0], [2, 2, 3])
    assert np.shares_memory(alone[LOGMEL_INPUT], first.log_mel)  # an hour-long call: no copy
