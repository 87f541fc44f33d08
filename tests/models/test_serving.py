"""Serving: the RunInference handler over the bundled model, batching, precision."""

from __future__ import annotations

import dataclasses
import json
import shutil

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.ml.inference.base import RunInference
from apache_beam.testing.util import assert_that, equal_to

from models import DEFAULT_BUNDLE, serving
from models.serving import CallModelHandler, without_audio
from tests.calls import flat_call
from transforms.progress import METRICS_NAMESPACE
from transforms.errors import ConfigError
from transforms.features import CallFeatures, window_inputs
from transforms.spec import LOGMEL_INPUT, TOKENS_INPUT, FeatureConfig
from transforms.speech import speech_probes
from transforms.vocabulary import Vocabulary


def test_without_audio_keeps_everything_but_the_log_mel_and_the_speech_probes():
    call = dataclasses.replace(flat_call("x", 3), speech=speech_probes(
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
    calls = [flat_call("a", 3), flat_call("b", 2), flat_call("c", 1), flat_call("d", 4)]

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
    calls = [flat_call("long", 5), flat_call("short", 1)]

    results = _run_handler(calls, max_batch_size=2)

    assert [batch for batch in _RecordingHandler.batches if batch] == [["long"], ["short"]]
    assert results["long"][1]["emergency"].shape == (5,)
    assert results["short"][1]["emergency"].shape == (1,)


def test_run_inference_outputs_match_scoring_each_call_alone():
    loud, quiet = flat_call("loud", 2, level_db=-10.0), flat_call("quiet", 3, level_db=-90.0)

    together = _run_handler([loud, quiet], max_batch_size=8)
    alone = _run_handler([quiet], max_batch_size=8)

    np.testing.assert_allclose(together["quiet"][1]["emergency"], alone["quiet"][1]["emergency"],
                               atol=1e-5)
    assert not np.allclose(together["quiet"][1]["emergency"][0],
                           together["loud"][1]["emergency"][0])


def test_inputs_the_feature_step_never_gives_are_a_bug_that_fails_the_job():
    good, bad = flat_call("good", 2), flat_call("bad", 2)
    bad.log_mel[1, 0, 0] = np.nan  # the feature step refuses such a call (FeatureError)

    with pytest.raises(Exception, match="holds NaN or Inf"):
        _run_handler([good, bad], max_batch_size=8)


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
    monkeypatch.setattr(serving, "native_bfloat16", lambda: native)
    path = _shipped_bundle_with_check(tmp_path, prank_decisions_changed=0)

    bundle = CallModelHandler(path).load_model()

    assert bundle.precision == expected
    assert bundle.model.get_layer("audio_conv2").compute_dtype == expected
    assert CallModelHandler(path, precision="float32").load_model().precision == (
        "float32")


def test_auto_keeps_float32_when_bfloat16_changed_a_decision(monkeypatch, tmp_path):
    monkeypatch.setattr(serving, "native_bfloat16", lambda: True)
    path = _shipped_bundle_with_check(tmp_path, prank_decisions_changed=1)

    bundle = CallModelHandler(path).load_model()

    assert bundle.precision == "float32"
    assert bundle.model.get_layer("audio_conv2").compute_dtype == "float32"


def test_window_inputs_stack_calls_in_order_and_leave_one_call_uncopied():
    vocabulary = Vocabulary(tokens=("<pad>", "<oov>", "불", "강도"))
    first, second = flat_call("a", 2, level_db=-10.0, tokens=("불",)), flat_call("b", 1, tokens=("강도",))
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
