"""Scoring: the RunInference model handler, per-call aggregation, prank reasons, verdicts.

Pure functions here; the Beam wiring is in :mod:`pipelines.triage`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler

from models.aggregate import CallScores, aggregate_windows
from models.bundle import ModelBundle, load_bundle, predict_windows, with_precision
from models.precision import PRECISION_CHOICES, native_bfloat16, resolve_precision
from pipelines.rules import PrankRules
from transforms.errors import ConfigError, InferenceError
from transforms.features import CallFeatures, window_inputs
from transforms.records import CallRecord
from transforms.speech import MIN_SPEECH_S, measure_speech, speech_detector
from transforms.worker import freeze_startup_objects

LOG = logging.getLogger(__name__)

#: Namespace of the job's Beam counters (and of RunInference's own metrics).
METRICS_NAMESPACE = "call_triage"

#: prank reasons, as written to ``prank_reasons``
TEXT_AUDIO_MISMATCH = "text_audio_mismatch"
REPEAT_CALLER = "repeat_caller"
MODEL_PRANK = "model_prank"


@dataclasses.dataclass(frozen=True)
class InferenceFailure:
    """Why the model could not score a call's windows. A message, not the InferenceError
    itself: an exception would carry its traceback, and with it the failed batch's
    arrays, along with the element."""

    message: str


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
    reasons: tuple[tuple[str, float], ...]

    @property
    def silent(self) -> bool:
        """No transcript words and (measured) less than :data:`MIN_SPEECH_S` of speech."""
        return (not self.has_transcript and self.speech_s is not None
                and self.speech_s < MIN_SPEECH_S)


def caller_hash(caller_id: Optional[str], *, key: bytes) -> Optional[str]:
    """Keyed hash (HMAC-SHA256, 32 hex chars) of a caller id; None for no caller."""
    if caller_id is None or not caller_id.strip():
        return None
    digest = hmac.new(key, caller_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:32]


def without_audio(call: CallFeatures, *, speech_s: Optional[float]) -> CallFeatures:
    """What scoring keeps of ``call``: an empty log-mel (0, n_mels, n_frames), no speech
    probes, and the seconds of speech measured in them."""
    empty = np.zeros((0,) + call.log_mel.shape[1:], dtype=np.float32)
    return dataclasses.replace(call, log_mel=empty, speech=None, speech_s=speech_s)


def measured_speech(calls: Sequence[CallFeatures]) -> list[Optional[float]]:
    """Seconds of speech in each call, the speech detector reading the probes of all
    of them in one batch (:func:`transforms.speech.measure_speech`); ``None`` for a call
    without probes."""
    probed = [index for index, call in enumerate(calls) if call.speech is not None]
    measured: list[Optional[float]] = [None] * len(calls)
    if probed:
        seconds = measure_speech([calls[index].speech for index in probed],
                                 detector=speech_detector())
        for index, value in zip(probed, seconds):
            measured[index] = value
    return measured


def n_windows_of(call: CallFeatures) -> int:
    """A call's size for batching: its number of windows."""
    return call.n_windows


class CallModelHandler(ModelHandler):
    """RunInference handler for our multi-input Keras model, one call per example.

    Examples are CallFeatures; predictions are ``(call without its log-mel, with its
    seconds of speech measured, outputs)`` (:func:`without_audio`, :func:`measured_speech`)
    with ``outputs`` ``{output name: (n_windows, ...)}`` as
    :func:`models.bundle.predict_windows` gives them, or ``(call, InferenceFailure)``.
    Batches hold whole calls, as many as fit in ``max_batch_size`` windows (a longer
    call is a batch of its own; the model runs 64 windows at a time). A batch the model
    rejects is retried call by call, so one bad call fails alone. The bundle (model +
    vocabulary + feature config) is loaded once per worker process by RunInference and
    shared by the process's threads; it computes in ``precision``, which each worker
    resolves for its own CPU (:func:`models.precision.resolve_precision`), and counts the
    windows it scores in :func:`scored_windows_counter` of that precision.
    """

    def __init__(self, bundle_path: str, *, max_batch_size: int = 128,
                 precision: str = "auto"):
        super().__init__()
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size={max_batch_size} must be >= 1")
        if precision not in PRECISION_CHOICES:
            raise ConfigError(f"precision={precision!r} must be one of {PRECISION_CHOICES}")
        self._bundle_path = bundle_path
        self._max_batch_size = max_batch_size
        self._precision = precision

    def load_model(self) -> ModelBundle:
        """Load the bundle in the precision resolved for this CPU, then freeze the
        start-up objects (the model's included) out of the garbage collector's full passes
        (:func:`freeze_startup_objects`)."""
        bundle = load_bundle(self._bundle_path)
        native = native_bfloat16()
        precision, reason = resolve_precision(self._precision, metadata=bundle.metadata,
                                              native=native)
        if precision == "bfloat16" and native is False:
            LOG.warning("this CPU has no native bfloat16 (avx512_bf16 or amx_bf16): "
                        "bfloat16 inference is emulated and slower than float32")
        bundle = with_precision(bundle, precision)
        frozen = freeze_startup_objects()
        LOG.info("loaded model %s %s in %s (%s; %d start-up objects frozen)",
                 bundle.model_name, bundle.model_version, precision, reason, frozen)
        return bundle

    def run_inference(
        self,
        batch: Sequence[CallFeatures],
        model: ModelBundle,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[tuple[CallFeatures, Any]]:
        if not batch:  # BatchElements emits one when a bundle opens with an oversized call
            return []
        scored = Metrics.counter(METRICS_NAMESPACE, scored_windows_counter(model.precision))
        speech = measured_speech(batch)
        try:
            outputs = _predict(batch, bundle=model)
        except InferenceError:
            results = [(without_audio(call, speech_s=speech_s),
                        _predict_one(call, bundle=model))
                       for call, speech_s in zip(batch, speech)]
            scored.inc(sum(call.n_windows for call, (_, outputs) in zip(batch, results)
                           if not isinstance(outputs, InferenceFailure)))
            return results
        ends = np.cumsum([call.n_windows for call in batch])
        scored.inc(int(ends[-1]))
        return [(without_audio(call, speech_s=speech_s),
                 {name: values[end - call.n_windows:end] for name, values in outputs.items()})
                for call, end, speech_s in zip(batch, ends, speech)]

    def get_num_bytes(self, batch: Sequence[CallFeatures]) -> int:
        return sum(call.log_mel.nbytes for call in batch)

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE

    def batch_elements_kwargs(self) -> dict[str, Any]:
        """Batches of up to ``max_batch_size`` windows, filled as far as whole calls allow.

        BatchElements counts each call as its :func:`n_windows_of` windows. Its adaptive
        sizing starts at ``min_batch_size`` and grows slowly: with a minimum of 1 the
        500-call benchmark ran 176 model calls of 12 windows on average, and inference took
        10.2 s instead of 6.1 s with full batches.
        """
        return {"min_batch_size": self._max_batch_size, "max_batch_size": self._max_batch_size,
                "element_size_fn": n_windows_of}


def scored_windows_counter(precision: str) -> str:
    """Name of the counter of windows the model scored in ``precision``."""
    return f"windows_scored_{precision}"


def _predict(calls: Sequence[CallFeatures], *, bundle: ModelBundle) -> dict[str, np.ndarray]:
    inputs = window_inputs(calls, vocab=bundle.vocabulary, config=bundle.config,
                           input_names=bundle.input_names)
    try:
        return predict_windows(bundle, inputs)
    except (ValueError, tf.errors.OpError) as error:  # Keras input checks, TF runtime errors
        what = "1 call" if len(calls) == 1 else f"a batch of {len(calls)} calls"
        raise InferenceError(f"model failed on {what}: {error}") from error


def _predict_one(call: CallFeatures, *, bundle: ModelBundle) -> Any:
    """One call's outputs, or the InferenceFailure saying why the model rejected it."""
    try:
        return _predict([call], bundle=bundle)
    except InferenceError as error:
        return InferenceFailure(str(error))


def score_call(
    call: CallFeatures,
    outputs: Mapping[str, np.ndarray],
    *,
    window_s: float,
    key: bytes,
    rules: PrankRules,
) -> ScoredCall:
    """Aggregate one call's window ``outputs`` ({name: (n_windows, ...)}, in window order)
    and apply the per-call prank rules."""
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
            rules: PrankRules, silent: bool = False) -> str:
    """``silent`` | ``emergency`` | ``prank_candidate`` | ``normal``: a ``silent`` call
    (:attr:`ScoredCall.silent`) is never an emergency on the audio alone; an emergency is
    never a prank."""
    if silent:
        return "silent"
    if emergency_score >= emergency_threshold:
        return "emergency"
    if prank_score >= rules.flag_min:
        return "prank_candidate"
    return "normal"
