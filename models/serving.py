"""Serving: running a bundle's model over windows, in float32 or bfloat16, and the
RunInference handler that feeds it whole calls.

The inputs a model takes are :data:`transforms.spec.MODEL_INPUTS`;
:func:`transforms.features.window_inputs` builds them from calls.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterable, Mapping, Optional, Sequence

import keras
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler

from models.bundle import ModelBundle, load_bundle
from models.precision import (PRECISION_CHOICES, PRECISIONS, native_bfloat16,
                              resolve_precision, scored_windows_counter)
from transforms.errors import ConfigError
from transforms.features import CallFeatures, window_inputs
from transforms.progress import METRICS_NAMESPACE
from transforms.spec import MODEL_INPUTS, FeatureConfig
from transforms.speech import measure_speech, speech_detector
from transforms.worker import freeze_startup_objects

LOG = logging.getLogger(__name__)

#: Windows per ``predict_on_batch`` call.
PREDICT_BATCH = 64


def model_inputs(bundle: ModelBundle, inputs: Mapping[str, np.ndarray]
                 ) -> tuple[dict[str, np.ndarray], int]:
    """The inputs ``bundle``'s model takes, cast to their dtypes, and the number of windows.

    ``inputs`` maps input names to ``(n_windows, *shape)`` arrays (:data:`MODEL_INPUTS`);
    names the model does not take are ignored. Raises ValueError for a missing input, a
    wrong shape, NaN/Inf, unequal window counts or no windows: the feature step
    guarantees all of them, so any of these is a bug of the caller.
    """
    missing = [name for name in bundle.input_names if name not in inputs]
    if missing:
        raise ValueError(f"inputs {sorted(inputs)} lack {missing} that model "
                         f"{bundle.model_name!r} needs")
    arrays = {}
    for name in bundle.input_names:
        spec = MODEL_INPUTS[name]
        array = np.asarray(inputs[name], dtype=spec.dtype)
        expected = spec.shape(bundle.config)
        if array.shape[1:] != expected:
            raise ValueError(f"input {name!r} has shape {array.shape}, expected "
                             f"(n_windows, {', '.join(map(str, expected))})")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"input {name!r} holds NaN or Inf")
        arrays[name] = array
    counts = {name: len(array) for name, array in arrays.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"inputs have different numbers of windows: {counts}")
    n_windows = next(iter(counts.values()))
    if n_windows == 0:
        raise ValueError("there are no windows to score")
    return arrays, n_windows


def predict_windows(bundle: ModelBundle, inputs: Mapping[str, np.ndarray], *,
                    batch_size: int = PREDICT_BATCH) -> dict[str, np.ndarray]:
    """Score windows: ``{input name: (n_windows, ...)}`` → ``{output name: float32}``.

    Sigmoid outputs come back as ``(n_windows,)``, the category as
    ``(n_windows, len(CATEGORIES))``. Runs ``model.predict_on_batch`` on batches of
    ``batch_size`` windows (faster on CPU than an eager call). Raises ConfigError for a
    bad ``batch_size`` and ValueError for bad inputs (:func:`model_inputs`).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be an int >= 1")
    arrays, n_windows = model_inputs(bundle, inputs)
    batches = [bundle.model.predict_on_batch(
                   {name: array[start:start + batch_size] for name, array in arrays.items()})
               for start in range(0, n_windows, batch_size)]
    outputs = {}
    for name in batches[0]:
        joined = np.concatenate([batch[name] for batch in batches]).astype(np.float32)
        outputs[name] = joined[:, 0] if joined.ndim == 2 and joined.shape[1] == 1 else joined
    return outputs


def with_precision(bundle: ModelBundle, precision: str) -> ModelBundle:
    """``bundle`` with its model computing in ``precision`` (one of :data:`PRECISIONS`).

    Asking for the bundle's own precision returns ``bundle`` itself. From float32,
    ``"bfloat16"`` returns a copy whose layers run under Keras's ``mixed_bfloat16`` policy
    with the same float32 weights, but for the output heads, which stay float32 (a
    bfloat16 probability has only ~3 digits). The thresholds were chosen in float32, so a
    bundle's own check (:func:`models.bundle.record_precision_check`) decides whether
    ``auto`` (:func:`models.precision.resolve_precision`) uses the copy. Raises
    ConfigError for an unknown precision, or to turn a bfloat16 copy back.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} must be one of {PRECISIONS}")
    if precision == bundle.precision:
        return bundle
    if bundle.precision != "float32":
        raise ConfigError(f"with_precision copies a float32 bundle, not a {bundle.precision} one")

    heads = set(bundle.model.output_names)

    def in_bfloat16(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if ("dtype" in config and layer.name not in heads
                and not isinstance(layer, keras.layers.InputLayer)):
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    model = keras.models.clone_model(bundle.model, clone_function=in_bfloat16)
    model.set_weights(bundle.model.get_weights())
    return dataclasses.replace(bundle, model=model, precision=precision)


def load_serving_bundle(path: str, *, config: Optional[FeatureConfig], precision: str
                        ) -> ModelBundle:
    """The bundle at ``path`` (checked against ``config``, ``None``: its own) in the
    precision ``precision`` resolves to on this CPU (:func:`resolve_precision`)."""
    bundle = load_bundle(path, expected_config=config)
    native = native_bfloat16()
    resolved, reason = resolve_precision(precision, metadata=bundle.metadata, native=native)
    if resolved == "bfloat16" and native is False:
        LOG.warning("this CPU has no native bfloat16 (avx512_bf16 or amx_bf16): "
                    "bfloat16 inference is emulated and slower than float32")
    LOG.info("model %s %s computes in %s (%s)", bundle.model_name, bundle.model_version,
             resolved, reason)
    return with_precision(bundle, resolved)


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


def predict_calls(calls: Sequence[CallFeatures], *, bundle: ModelBundle
                  ) -> list[dict[str, np.ndarray]]:
    """Each call's window outputs ``{output name: (n_windows, ...)}``, in order, from one
    run of the model over all their windows. Bad inputs raise ValueError (a bug: the
    feature step checks them); a TensorFlow runtime error propagates, so the runner
    retries the work or fails the job."""
    inputs = window_inputs(calls, vocab=bundle.vocabulary, config=bundle.config,
                           input_names=bundle.input_names)
    outputs = predict_windows(bundle, inputs)
    ends = np.cumsum([call.n_windows for call in calls])
    return [{name: values[end - call.n_windows:end] for name, values in outputs.items()}
            for call, end in zip(calls, ends)]


class CallModelHandler(ModelHandler):
    """RunInference handler for a bundle's multi-input Keras model, one call per example.

    Examples are CallFeatures; predictions are ``(call, outputs)``: the call without its
    log-mel and with its seconds of speech measured (:func:`without_audio`,
    :func:`measured_speech`), and its window ``outputs`` ``{output name: (n_windows, ...)}``
    (:func:`predict_calls`). Batches hold whole calls, as many as fit in
    ``max_batch_size`` windows (a longer call is a batch of its own). The bundle is loaded
    once per worker process and shared by its threads, checked against ``config`` (the
    feature config the job extracts with), in the precision each worker resolves for its
    own CPU (:func:`load_serving_bundle`); the windows it scores are counted in
    :func:`scored_windows_counter` of that precision.
    """

    def __init__(self, bundle_path: str, *, config: Optional[FeatureConfig] = None,
                 max_batch_size: int = 128, precision: str = "auto"):
        super().__init__()
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size={max_batch_size} must be >= 1")
        if precision not in PRECISION_CHOICES:
            raise ConfigError(f"precision={precision!r} must be one of {PRECISION_CHOICES}")
        self._bundle_path = bundle_path
        self._config = config
        self._max_batch_size = max_batch_size
        self._precision = precision

    def load_model(self) -> ModelBundle:
        """Load the bundle, then freeze the start-up objects (the model's included) out
        of the garbage collector's full passes (:func:`freeze_startup_objects`)."""
        bundle = load_serving_bundle(self._bundle_path, config=self._config,
                                     precision=self._precision)
        LOG.info("%d start-up objects frozen", freeze_startup_objects())
        return bundle

    def run_inference(
        self,
        batch: Sequence[CallFeatures],
        model: ModelBundle,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[tuple[CallFeatures, dict[str, np.ndarray]]]:
        if not batch:  # BatchElements emits one when a bundle opens with an oversized call
            return []
        outputs = predict_calls(batch, bundle=model)
        Metrics.counter(METRICS_NAMESPACE, scored_windows_counter(model.precision)).inc(
            sum(call.n_windows for call in batch))
        return [(without_audio(call, speech_s=speech_s), call_outputs)
                for call, speech_s, call_outputs in zip(batch, measured_speech(batch), outputs)]

    def get_num_bytes(self, batch: Sequence[CallFeatures]) -> int:
        return sum(call.log_mel.nbytes for call in batch)

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE

    def batch_elements_kwargs(self) -> dict[str, Any]:
        """Batches of up to ``max_batch_size`` windows, filled as far as whole calls allow.

        BatchElements counts each call as its :func:`n_windows_of` windows. Its adaptive
        sizing starts at ``min_batch_size`` and grows slowly, so both ends are set: full
        batches keep the model busy.
        """
        return {"min_batch_size": self._max_batch_size, "max_batch_size": self._max_batch_size,
                "element_size_fn": n_windows_of}
