"""Scoring: the RunInference model handler, per-call aggregation, prank reasons, verdicts.

Pure functions here; the Beam wiring is in :mod:`pipelines.triage`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf
from apache_beam.ml.inference.base import ModelHandler

from models.aggregate import CallScores, aggregate_windows
from models.bundle import ModelBundle, load_bundle, predict_windows
from transforms.errors import ConfigError, InferenceError
from transforms.features import CallFeatures, window_inputs
from transforms.records import CallRecord
from transforms.worker import freeze_startup_objects

LOG = logging.getLogger(__name__)

#: prank reasons, as written to ``prank_reasons``
TEXT_AUDIO_MISMATCH = "text_audio_mismatch"
REPEAT_CALLER = "repeat_caller"
MODEL_PRANK = "model_prank"


@dataclasses.dataclass(frozen=True)
class PrankRules:
    """Thresholds of the prank-candidate rules (all scores are probabilities in [0, 1]).

    - ``text_audio_mismatch``: the transcript claims an emergency (text score ≥
      ``mismatch_text_min``) that the audio does not carry (audio score ≤
      ``mismatch_audio_max``); its score is ``text_score - audio_score``.
    - ``repeat_caller``: the same caller called ≥ ``repeat_min_calls`` times in the run and
      none of those calls scored above ``repeat_max_emergency``; its score grows with the
      number of calls, ``1 - 1 / n_calls`` (3 calls → 0.67, 5 → 0.8).
    - ``model_prank``: the model's own prank head ≥ ``model_min``; its score is that value.
    A call becomes a prank candidate when the largest reason score ≥ ``flag_min`` and it is
    not flagged as an emergency.
    """

    mismatch_text_min: float = 0.7
    mismatch_audio_max: float = 0.3
    repeat_min_calls: int = 3
    repeat_max_emergency: float = 0.3
    model_min: float = 0.5
    flag_min: float = 0.5

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "repeat_min_calls":
                if value < 2:
                    raise ConfigError(f"repeat_min_calls={value} must be >= 2")
            elif not 0.0 <= value <= 1.0:
                raise ConfigError(f"{field.name}={value} must be in [0, 1]")


@dataclasses.dataclass(frozen=True)
class WindowFailure:
    """A window the model could not score, with the cause."""

    message: str


@dataclasses.dataclass(frozen=True)
class ScoredCall:
    """One call after aggregation, before the per-caller prank rule."""

    record: CallRecord
    caller_hash: Optional[str]
    duration_s: float
    sample_rate_hz: int
    has_transcript: bool
    scores: CallScores
    reasons: tuple[tuple[str, float], ...]


def caller_hash(caller_id: Optional[str], *, key: bytes) -> Optional[str]:
    """Keyed hash (HMAC-SHA256, 32 hex chars) of a caller id; None for no caller."""
    if caller_id is None or not caller_id.strip():
        return None
    digest = hmac.new(key, caller_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:32]


def split_windows(call: CallFeatures) -> Iterator[tuple[str, tuple[int, CallFeatures]]]:
    """One keyed element per window: ``(call_id, (window_index, one-window CallFeatures))``."""
    for index in range(call.n_windows):
        window = dataclasses.replace(
            call,
            log_mel=call.log_mel[index:index + 1],
            window_starts_s=call.window_starts_s[index:index + 1])
        yield call.record.call_id, (index, window)


def call_metadata(call: CallFeatures) -> tuple[str, CallFeatures]:
    """The call without its audio features, keyed by id, for the join after inference."""
    empty = np.zeros((0,) + call.log_mel.shape[1:], dtype=np.float32)
    return call.record.call_id, dataclasses.replace(call, log_mel=empty)


class WindowModelHandler(ModelHandler):
    """RunInference handler for our multi-input Keras model, one window per example.

    Examples are ``(window_index, one-window CallFeatures)``; predictions are
    ``(window_index, {output_name: value})`` or ``(window_index, WindowFailure)``. The
    bundle (model + vocabulary + feature config) is loaded once per worker process by
    RunInference and shared by the process's threads.
    """

    def __init__(self, bundle_path: str, *, max_batch_size: int = 128):
        super().__init__()
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size={max_batch_size} must be >= 1")
        self._bundle_path = bundle_path
        self._max_batch_size = max_batch_size

    def load_model(self) -> ModelBundle:
        """Load the bundle, then freeze the start-up objects (the model's included) out
        of the garbage collector's full passes (:func:`freeze_startup_objects`)."""
        bundle = load_bundle(self._bundle_path)
        frozen = freeze_startup_objects()
        LOG.info("loaded model %s %s (%d start-up objects frozen)", bundle.model_name,
                 bundle.model_version, frozen)
        return bundle

    def run_inference(
        self,
        batch: Sequence[tuple[int, CallFeatures]],
        model: ModelBundle,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[tuple[int, Any]]:
        indices = [index for index, _ in batch]
        windows = [window for _, window in batch]
        try:
            rows = _rows(_predict(windows, bundle=model), len(windows))
        except InferenceError:
            rows = [_predict_one(window, bundle=model) for window in windows]
        return list(zip(indices, rows))

    def get_num_bytes(self, batch: Sequence[tuple[int, CallFeatures]]) -> int:
        return sum(window.log_mel.nbytes for _, window in batch)

    def get_metrics_namespace(self) -> str:
        return "call_triage"

    def batch_elements_kwargs(self) -> dict[str, int]:
        """Fixed batches of ``max_batch_size`` windows (fewer only at a bundle's end).

        BatchElements' adaptive sizing starts at ``min_batch_size`` and grows slowly: with
        a minimum of 1 the 500-call benchmark ran 176 model calls of 12 windows on average,
        and inference took 10.2 s instead of 6.1 s with full batches.
        """
        return {"min_batch_size": self._max_batch_size, "max_batch_size": self._max_batch_size}


def _predict(windows: Sequence[CallFeatures], *, bundle: ModelBundle) -> dict[str, np.ndarray]:
    inputs = window_inputs(windows, vocab=bundle.vocabulary, config=bundle.config,
                           input_names=bundle.input_names)
    try:
        return predict_windows(bundle, inputs)
    except (ValueError, tf.errors.OpError) as error:  # Keras input checks, TF runtime errors
        raise InferenceError(f"model failed on a batch of {len(windows)} windows: {error}") \
            from error


def _rows(outputs: dict[str, np.ndarray], n: int) -> list[dict[str, np.ndarray]]:
    return [{name: values[row] for name, values in outputs.items()} for row in range(n)]


def _predict_one(window: CallFeatures, *, bundle: ModelBundle) -> Any:
    try:
        return _rows(_predict([window], bundle=bundle), 1)[0]
    except InferenceError as error:
        return WindowFailure(str(error))


def window_failure_message(windows: Sequence[tuple[int, Any]]) -> Optional[str]:
    """The first failure among a call's window predictions, or None if all were scored."""
    failures = [f"window {index}: {result.message}" for index, result in sorted(windows,
                key=lambda item: item[0]) if isinstance(result, WindowFailure)]
    return "; ".join(failures[:3]) if failures else None


def score_call(
    metadata: CallFeatures,
    windows: Sequence[tuple[int, dict[str, np.ndarray]]],
    *,
    window_s: float,
    key: bytes,
    rules: PrankRules,
) -> ScoredCall:
    """Aggregate one call's window predictions and apply the per-call prank rules.

    ``windows`` holds ``(window_index, outputs)`` for every window of the call, any order.
    """
    ordered = sorted(windows, key=lambda item: item[0])
    if [index for index, _ in ordered] != list(range(len(metadata.window_starts_s))):
        raise RuntimeError(
            f"call {metadata.record.call_id}: got windows {[i for i, _ in ordered]} for "
            f"{len(metadata.window_starts_s)} windows")
    names = ordered[0][1].keys()
    outputs = {name: np.stack([output[name] for _, output in ordered]) for name in names}
    has_transcript = bool(metadata.tokens)
    scores = aggregate_windows(
        outputs=outputs, window_starts_s=metadata.window_starts_s, window_s=window_s,
        duration_s=metadata.duration_s)
    if not has_transcript:
        scores = dataclasses.replace(scores, text_score=None)
    return ScoredCall(
        record=metadata.record,
        caller_hash=caller_hash(metadata.record.caller_id, key=key),
        duration_s=metadata.duration_s,
        sample_rate_hz=metadata.sample_rate_hz,
        has_transcript=has_transcript,
        scores=scores,
        reasons=call_prank_reasons(scores, rules=rules),
    )


def call_prank_reasons(scores: CallScores, *, rules: PrankRules) -> tuple[tuple[str, float], ...]:
    """The prank reasons one call carries on its own (mismatch, model), with their scores."""
    reasons = []
    if (scores.text_score is not None and scores.audio_score is not None
            and scores.text_score >= rules.mismatch_text_min
            and scores.audio_score <= rules.mismatch_audio_max):
        reasons.append((TEXT_AUDIO_MISMATCH, scores.text_score - scores.audio_score))
    if scores.prank_score is not None and scores.prank_score >= rules.model_min:
        reasons.append((MODEL_PRANK, scores.prank_score))
    return tuple(reasons)


def add_repeat_caller_reason(
    calls: Sequence[ScoredCall], *, rules: PrankRules
) -> list[ScoredCall]:
    """Apply the repeat-caller rule to all the run's calls of ONE caller."""
    if len(calls) < rules.repeat_min_calls:
        return list(calls)
    if max(call.scores.emergency_score for call in calls) > rules.repeat_max_emergency:
        return list(calls)
    reason = (REPEAT_CALLER, 1.0 - 1.0 / len(calls))
    return [dataclasses.replace(call, reasons=call.reasons + (reason,)) for call in calls]


def verdict(*, emergency_score: float, prank_score: float, emergency_threshold: float,
            rules: PrankRules) -> str:
    """``emergency`` | ``prank_candidate`` | ``normal``; an emergency is never a prank."""
    if emergency_score >= emergency_threshold:
        return "emergency"
    if prank_score >= rules.flag_min:
        return "prank_candidate"
    return "normal"
