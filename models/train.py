"""Training: fit one architecture on a labelled archive's train split and ship a bundle.

:func:`fit_model` compiles and fits a model from :mod:`models.builders` on window sets
(Adam; binary cross-entropy on the sigmoid heads, sparse categorical cross-entropy on the
category head with masked windows weighted 0; balanced class weights on the emergency head;
early stopping on the validation split's call-level ROC AUC, best weights restored), with
the batches of :mod:`models.batches`.
:func:`train_bundle` is ``call-triage train``: features → splits → fit → the multimodal
words models refitted and the verdict calibrated on the validation split (:mod:`models.words`;
the kept epoch was chosen with the network's own) → thresholds chosen on the validation
split at call level → test-split metrics →
:func:`models.bundle.save_bundle`, with the model card of :mod:`models.model_card`.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import hashlib
import logging
import sys
import time
from typing import Any, Mapping, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from models import builders
from models.builders import DEFAULT_MODEL
from models.batches import TrainingBatches, drop_unread_gate_weights
from models.bundle import ModelBundle, load_bundle, save_bundle
from models.dataset import (
    ArchiveFeatures,
    WindowSet,
    balanced_weights,
    build_vocabulary,
    load_archive_features,
    reviewed_features,
    reviewed_nights,
    split_calls,
    split_sizes,
    total_hours,
    window_set,
)
from models.evaluate import (
    EMERGENCY_MIN_RECALL,
    call_metrics,
    roc_auc,
    choose_thresholds,
    format_metrics,
    precision_check,
    score_calls,
)
from models.model_card import GATE_FIT_KEY, model_card
from models.words import (DEFAULT_GATE_L2, WordsFit, calibrate_verdict, call_rows,
                          check_gate_l2, refit_words)
from models.precision import PRECISION_CHECKS_KEY, precision_check_record
from transforms import spec
from transforms.aihub import LabelMapping
from transforms.errors import ConfigError
from transforms.features import CallFeatures
from transforms.spec import FeatureConfig
from transforms.vocabulary import Vocabulary

LOG = logging.getLogger(__name__)


#: Early stopping watches the verdict's call-level validation AUC: the window loss swings by epoch.
MONITOR = "val_call_auc"


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How to fit: at most ``epochs`` passes of ``batch_size`` windows with Adam at
    ``learning_rate``, stopping after ``patience`` epochs without a higher call-level
    validation ROC AUC of the emergency verdict (:data:`MONITOR`). ``max_train_windows``
    fits on a random subset of that many training windows (for VGG-16 on a CPU).
    ``text_dropout``: share of training windows whose transcript is blanked (all PAD) in
    each epoch, so that the fused heads learn to use the audio; ``token_dropout``: share
    of the other tokens replaced by OOV (models with a ``tokens`` input only).
    ``text_swap``: share of training windows given the transcript of another, randomly
    drawn training window each epoch (multimodal only); the targets follow the new pair of
    sound and words (:func:`models.batches.swap_transcripts`: a claimed emergency over
    audio that does not carry one is a prank; the verdict needs both).
    ``time_shift``: roll every training window's log-mel along time by a random number of
    frames each epoch (:func:`models.batches.roll_frames`), so the audio branch sees sounds
    at every position of its window (most useful to a Flatten → Dense head, which is tied
    to positions). ``logdir``: TensorBoard logs.
    ``vgg_weights``: a local ImageNet VGG-16 (no top) weights file for ``vgg16_transfer``.
    ``audio_pooling``: how the CNN audio branch pools its maps (``builders.AUDIO_POOLINGS``;
    ``None``: the model's default; models with that branch only).
    ``gate_l2``: the L2 penalty of the words models' refit after the fit (multimodal only;
    :mod:`models.words`). ``recall_target``: the validation recall the emergency threshold
    keeps (:func:`models.evaluate.choose_thresholds`).
    The defaults are the bundled model's recipe (models/README.md)."""

    epochs: int = 12
    batch_size: int = 32
    seed: int = 1
    learning_rate: float = 1e-3
    patience: int = 4
    max_train_windows: Optional[int] = None
    text_dropout: float = 0.8
    token_dropout: float = 0.4
    text_swap: float = 0.5
    time_shift: bool = True
    logdir: Optional[str] = None
    vgg_weights: Optional[str] = None
    audio_pooling: Optional[str] = None
    gate_l2: float = DEFAULT_GATE_L2
    recall_target: float = EMERGENCY_MIN_RECALL

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate={self.learning_rate} must be > 0")
        if self.max_train_windows is not None and self.max_train_windows < 2:
            raise ConfigError(f"max_train_windows={self.max_train_windows} must be >= 2")
        for name in ("text_dropout", "token_dropout", "text_swap"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} must be in [0, 1)")
        check_gate_l2(self.gate_l2)
        if not 0.0 < self.recall_target <= 1.0:
            raise ConfigError(f"recall_target={self.recall_target} must be in (0, 1]")


@dataclasses.dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted model (uncompiled copy with the best weights: no optimizer state) and how
    the fit went: ``history`` per epoch (Keras's logs), ``epochs_run``, ``best_epoch``
    (1-based, the weights kept), ``seconds`` of fitting and ``train_windows`` used."""

    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float
    train_windows: int


def _targets(windows: WindowSet, outputs: tuple[str, ...], *, balance: bool
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The targets and sample weights of ``outputs``; the gate's weights are 0 where it
    does not read the transcript (:func:`models.batches.drop_unread_gate_weights`), and
    with ``balance`` the emergency weights are multiplied by :func:`balanced_weights` of
    its targets."""
    targets = {name: windows.targets[name] for name in outputs}
    weights = {name: windows.weights[name] for name in outputs}
    if spec.TOKENS_INPUT in windows.inputs:
        drop_unread_gate_weights(weights, windows.inputs[spec.TOKENS_INPUT])
    if balance:
        weights[spec.EMERGENCY_OUTPUT] = (weights[spec.EMERGENCY_OUTPUT]
                                          * balanced_weights(targets[spec.EMERGENCY_OUTPUT]))
    return targets, weights


def _inputs(windows: WindowSet, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    missing = [name for name in names if name not in windows.inputs]
    if missing:
        raise ConfigError(f"the window set lacks inputs {missing}")
    return {name: windows.inputs[name] for name in names}


def _subsample(windows: WindowSet, *, limit: Optional[int], seed: int) -> WindowSet:
    """At most ``limit`` windows, drawn without replacement (order kept)."""
    if limit is None or windows.n_windows <= limit:
        return windows
    rows = np.sort(np.random.default_rng(seed).choice(windows.n_windows, limit, replace=False))
    return windows.subset(rows)


def inference_copy(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model`` with its weights, so that it is saved without
    optimizer state (``keras.models.clone_model`` would compile the copy too)."""
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


class CallLevelValidation(keras.callbacks.Callback):
    """Adds :data:`MONITOR` to every epoch's logs (before EarlyStopping reads them): the
    model scores ``windows``' calls through :func:`models.evaluate.score_calls`, the
    nightly job's path, and the ROC AUC of their emergency scores is taken. Raises
    ConfigError when ``windows`` lack emergency or non-emergency calls (no AUC)."""

    def __init__(self, *, windows: WindowSet, name: str, vocabulary: Vocabulary,
                 config: FeatureConfig) -> None:
        super().__init__()
        self._labels = [call.record.label == "emergency" for call in windows.calls]
        if len(set(self._labels)) != 2:
            raise ConfigError("the validation split needs emergency and other calls to "
                              "choose the epoch to keep")
        self._windows, self._name = windows, name
        self._vocabulary, self._config = vocabulary, config

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        bundle = in_memory_bundle(model=self.model, name=self._name,
                                  vocabulary=self._vocabulary, config=self._config)
        scores = [call.emergency_score for call in score_calls(bundle, self._windows).calls]
        auc = roc_auc(labels=self._labels, scores=scores)
        LOG.info("epoch %d: validation call-level ROC AUC %.4f", epoch + 1, auc)
        if logs is not None:
            logs[MONITOR] = auc


def _callbacks(options: TrainOptions, *, validation: CallLevelValidation
               ) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [validation, keras.callbacks.EarlyStopping(
        monitor=MONITOR, mode="max", patience=options.patience, restore_best_weights=True)]
    if options.logdir:
        try:
            import tensorboard  # noqa: F401  (tf.summary needs it; TF 2.21 does not pull it in)
        except ImportError as error:
            raise ConfigError("--logdir needs the tensorboard package: pip install "
                              "\"call-triage[tensorboard]\" (or tensorboard)") from error
        callbacks.append(keras.callbacks.TensorBoard(log_dir=options.logdir))
    return callbacks


def fit_model(name: str, *, train: WindowSet, validation: WindowSet, vocabulary: Vocabulary,
              config: FeatureConfig, options: TrainOptions,
              start: Optional[keras.Model] = None) -> FitResult:
    """Build model ``name`` (seeded with ``options.seed``), or copy ``start`` with its
    weights (fine-tuning), compile and fit it.

    Losses and loss weights are :func:`builders.default_losses` /
    :func:`builders.default_loss_weights`; the emergency head's windows are weighted to
    balance its classes; category targets of masked windows weigh 0; batches come from
    :class:`models.batches.TrainingBatches`. Progress is Keras's (a bar on a terminal, one
    line per epoch otherwise).
    """
    keras.utils.set_random_seed(options.seed)
    # the same seed gives the same weights: TensorFlow's ops pick their deterministic kernels
    tf.config.experimental.enable_op_determinism()
    model = (inference_copy(start) if start is not None else builders.build_model(
        name, config=config, vocab_size=len(vocabulary), seed=options.seed,
        vgg_weights=options.vgg_weights, audio_pooling=options.audio_pooling))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=options.learning_rate),
                  loss=builders.default_losses(name),
                  loss_weights=builders.default_loss_weights(name),
                  metrics={spec.EMERGENCY_OUTPUT: ["accuracy"]})
    inputs, outputs = builders.model_input_names(name), builders.model_output_names(name)
    train = _subsample(train, limit=options.max_train_windows, seed=options.seed)
    y_train, w_train = _targets(train, outputs, balance=True)
    y_val, w_val = _targets(validation, outputs, balance=False)
    LOG.info("fitting %s (%d parameters) on %d windows, validating on %d", name,
             model.count_params(), train.n_windows, validation.n_windows)
    started = time.perf_counter()
    batches = TrainingBatches(inputs=_inputs(train, inputs), targets=y_train, weights=w_train,
                              batch_size=options.batch_size, seed=options.seed,
                              text_dropout=options.text_dropout,
                              token_dropout=options.token_dropout,
                              text_swap=options.text_swap,
                              time_shift=options.time_shift)
    history = model.fit(
        batches, validation_data=(_inputs(validation, inputs), y_val, w_val),
        epochs=options.epochs,
        callbacks=_callbacks(options, validation=CallLevelValidation(
            windows=validation, name=name, vocabulary=vocabulary, config=config)),
        verbose=1 if sys.stdout.isatty() else 2)
    seconds = time.perf_counter() - started
    logs = {key: [float(value) for value in values] for key, values in history.history.items()}
    return FitResult(model=inference_copy(model), history=logs,
                     epochs_run=len(logs["loss"]),
                     best_epoch=int(np.argmax(logs[MONITOR])) + 1, seconds=seconds,
                     train_windows=train.n_windows)


def in_memory_bundle(*, model: keras.Model, name: str, vocabulary: Vocabulary,
                     config: FeatureConfig) -> ModelBundle:
    """A :class:`ModelBundle` around a just-fitted model, to score with the nightly
    job's own prediction path before anything is saved."""
    return ModelBundle(model=model, vocabulary=vocabulary, config=config,
                       metadata={"model_name": name}, thresholds={"emergency": 0.5},
                       metrics={}, path="<memory>")


def weights_digest(model: keras.Model) -> str:
    """A hex SHA-256 of the model's weights (names the trained model in its version)."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def model_version(*, created: datetime.datetime, digest: str) -> str:
    """``YYYY.MM.DD-<7 hex digits of the weights digest>``."""
    return f"{created:%Y.%m.%d}-{digest[:7]}"


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedArchive:
    """A labelled archive ready to fit on: its features, labelled calls per split (the
    train split with the analysts' reviewed calls added), the vocabulary of the train
    split, each split's :class:`WindowSet`, and ``reviewed``: where the reviewed calls came
    from (one record per night: ``out``, ``run_date``, ``archive``, ``calls``), and the
    mapping its AI Hub labels were read with."""

    archive: str
    config: FeatureConfig
    features: ArchiveFeatures
    splits: dict[str, tuple[CallFeatures, ...]]
    vocabulary: Vocabulary
    windows: dict[str, WindowSet]
    reviewed: tuple[dict[str, Any], ...] = ()
    label_mapping: LabelMapping = dataclasses.field(default_factory=LabelMapping.load)

    def data_sources(self) -> dict[str, Any]:
        """Where the labels of the split calls came from (``records.LABEL_SOURCES`` →
        calls) and, when the archive has AI Hub 119-call labels, the mapping that read
        them and the calls it could not label: the model card's data section."""
        calls = [call for split in self.splits.values() for call in split]
        sources = dict(sorted(collections.Counter(
            call.record.label_source or "unknown" for call in calls).items()))
        record: dict[str, Any] = {"labels": sources}
        problems = self.features.label_problems
        if "aihub_119" in sources or problems:
            record["aihub_labels"] = {
                "mapping": self.label_mapping.source,
                "names": {field: dict(names) for field, names in self.label_mapping.names.items()},
                "problems": dict(collections.Counter(p.problem for p in problems)),
            }
        return record


def reviewed_training_calls(reviewed: Sequence[str], *, config: FeatureConfig,
                            cache_dir: Optional[str], workers: Optional[int] = None,
                            label_mapping: Optional[LabelMapping] = None
                            ) -> tuple[tuple[CallFeatures, ...], tuple[dict[str, Any], ...]]:
    """The calls analysts labelled (``call-triage review import``) in every night under the
    report roots ``reviewed``, as train-split calls, and one source record per night that
    gave some. Silent verdicts are not labels, so they are not among them."""
    calls: list[CallFeatures] = []
    sources = []
    for night in (night for out in reviewed for night in reviewed_nights(out)):
        found = reviewed_features(night, config=config, cache_dir=cache_dir, workers=workers,
                                  label_mapping=label_mapping)
        if found:
            calls += found
            sources.append({"out": night.out, "run_date": night.run_date,
                            "archive": night.archive, "calls": len(found)})
            LOG.info("adding %d reviewed calls of %s (night %s) to the train split",
                     len(found), night.out, night.run_date)
    return tuple(calls), tuple(sources)


#: Labels a split cannot do without: what the fit learns from and the threshold is set on.
REQUIRED_LABELS = {"train": ("emergency", "normal"), "validation": ("emergency",)}


def missing_labels(splits: Mapping[str, Sequence[CallFeatures]]) -> list[str]:
    """What the splits lack, as warnings: every label (:data:`spec.LABELS`) a split has no
    call of, and what follows from it. Raises ConfigError when a split lacks a label of
    :data:`REQUIRED_LABELS` (nothing to learn an emergency from, or to set its threshold
    on)."""
    warnings, fatal = [], []
    for name, calls in splits.items():
        present = {call.record.label for call in calls}
        for label in spec.LABELS:
            if label in present:
                continue
            if label in REQUIRED_LABELS.get(name, ()):
                fatal.append(f"the {name} split has no {label} calls")
            else:
                warnings.append(f"the {name} split has no {label} calls" + (
                    "; the prank threshold keeps its default and the prank figures are "
                    "missing" if (name, label) == ("validation", "prank") else ""))
    if fatal:
        raise ConfigError("; ".join(fatal))
    return warnings


def with_reviewed(train: Sequence[CallFeatures], reviewed: Sequence[CallFeatures], *,
                  held_out: Sequence[CallFeatures]) -> tuple[CallFeatures, ...]:
    """The train split with the ``reviewed`` calls: one per audio file (the last verdict
    given wins, nights in order), replacing a train call of the same file, and none whose
    file is in ``held_out`` (validation and test), which training on would leak."""
    latest = {call.record.audio_uri: call for call in reviewed}
    held = {call.record.audio_uri for call in held_out}
    leaking = sorted(uri for uri in latest if uri in held)
    if leaking:
        LOG.warning("%d reviewed calls are in the validation or test split and are not "
                    "trained on, e.g. %s", len(leaking), leaking[0])
    kept = [call for uri, call in latest.items() if uri not in held]
    return tuple(call for call in train if call.record.audio_uri not in latest) + tuple(kept)


def prepare_archive(archive: str, *, config: FeatureConfig, input_names: Sequence[str],
                    cache_dir: Optional[str], workers: Optional[int] = None,
                    reviewed: Sequence[str] = (), vocabulary: Optional[Vocabulary] = None,
                    label_mapping: Optional[LabelMapping] = None) -> PreparedArchive:
    """Features (cached) → splits, plus the calls analysts reviewed under the report roots
    ``reviewed`` in the train split (:func:`reviewed_training_calls`; the validation and
    test splits stay the archive's own) → the train split's vocabulary (or ``vocabulary``,
    a fine-tuned bundle's) → window sets with ``input_names``. ``label_mapping`` maps the
    archive's AI Hub labels (default: the shipped mapping).

    Raises ConfigError when a split has no labelled calls.
    """
    label_mapping = label_mapping or LabelMapping.load()
    features = load_archive_features(archive, config=config, cache_dir=cache_dir,
                                     workers=workers, label_mapping=label_mapping)
    splits = split_calls(features.calls)
    extra, sources = reviewed_training_calls(reviewed, config=config, cache_dir=cache_dir,
                                             label_mapping=label_mapping,
                                             workers=workers)
    splits["train"] = with_reviewed(splits["train"], extra,
                                    held_out=splits["validation"] + splits["test"])
    empty = [name for name, calls in splits.items() if not calls]
    if empty:
        raise ConfigError(f"archive {archive!r} has no labelled calls in split(s) {empty}")
    for warning in missing_labels(splits):
        LOG.warning("archive %s: %s", archive, warning)
    vocabulary = vocabulary or build_vocabulary(splits["train"])
    windows = {name: window_set(calls, vocab=vocabulary, config=config,
                                input_names=input_names)
               for name, calls in splits.items()}
    return PreparedArchive(archive=archive, config=config, features=features, splits=splits,
                           vocabulary=vocabulary, windows=windows, reviewed=sources,
                           label_mapping=label_mapping)


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedModel:
    """A fitted model as an in-memory bundle (thresholds chosen, metadata set), its
    metrics (``validation``/``test``: :func:`call_metrics`; ``training``: the fit) and
    the seconds it took to score the test windows (``test_seconds``)."""

    bundle: ModelBundle
    fit: FitResult
    metrics: dict[str, Any]
    test_seconds: float


@dataclasses.dataclass(frozen=True, eq=False)
class Measured:
    """What :func:`measure_model` finds: ``thresholds`` chosen on the validation split,
    ``metrics`` (``validation`` and ``test``: :func:`call_metrics` at those thresholds),
    the ``bfloat16_check`` on the validation split (:func:`precision_check`) and the
    seconds it took to score the test windows (``test_seconds``)."""

    thresholds: dict[str, float]
    metrics: dict[str, Any]
    bfloat16_check: dict[str, Any]
    test_seconds: float


def measure_model(bundle: ModelBundle, windows: Mapping[str, WindowSet], *,
                  recall_target: float = EMERGENCY_MIN_RECALL) -> Measured:
    """Score ``windows["validation"]`` and ``windows["test"]`` with ``bundle`` at call
    level, choose the thresholds on the validation calls (:func:`choose_thresholds`, the
    emergency one for ``recall_target``), measure both splits at them and check bfloat16
    on the validation split."""
    validation = score_calls(bundle, windows["validation"])
    started = time.perf_counter()
    test = score_calls(bundle, windows["test"])
    test_seconds = time.perf_counter() - started
    thresholds = choose_thresholds(calls=windows["validation"].calls, scores=validation.calls,
                                   recall_target=recall_target)
    bfloat16_check = precision_check(dataclasses.replace(bundle, thresholds=thresholds),
                                     windows["validation"], split="validation",
                                     reference=validation)
    metrics = {
        "validation": call_metrics(windows=windows["validation"], scored=validation,
                                   thresholds=thresholds),
        "test": call_metrics(windows=windows["test"], scored=test, thresholds=thresholds),
    }
    return Measured(thresholds=thresholds, metrics=metrics, bfloat16_check=bfloat16_check,
                    test_seconds=test_seconds)


def refit_model_words(model: keras.Model, *, train: WindowSet, validation: WindowSet,
                      l2: float) -> dict[str, Any]:
    """Refit ``model``'s words models on the calls of ``train`` and calibrate its verdict
    on the windows of ``validation`` (:mod:`models.words`), in place. Returns the record
    ``bundle.json`` keeps (:data:`GATE_FIT_KEY`)."""
    windows = train.call_windows()
    fits: dict[str, WordsFit] = refit_words(
        model, calls=train.calls, tokens=call_rows(train.inputs[spec.TOKENS_INPUT], windows),
        lexicon=call_rows(train.inputs[spec.LEXICON_INPUT], windows), l2=l2)
    for name, fit in fits.items():
        LOG.info("refitted words model %s on %d training transcripts %s, L2 %g: log loss "
                 "%.4f", name, fit.calls, fit.class_counts, fit.l2, fit.log_loss)
    coefficients = calibrate_verdict(
        model, inputs=validation.inputs, targets=validation.targets[spec.EMERGENCY_OUTPUT],
        weights=validation.weights[spec.EMERGENCY_OUTPUT])
    LOG.info("calibrated the verdict on %d validation windows: %s",
             len(validation.targets[spec.EMERGENCY_OUTPUT]), coefficients)
    return {"method": "L2 logistic regression (scikit-learn) on the train split's "
                      "transcripts; verdict calibrated on the validation split's windows",
            "l2": l2, "words_models": {name: fit.summary() for name, fit in fits.items()},
            "verdict_coefficients": coefficients}


def train_model(prepared: PreparedArchive, *, model_name: str, options: TrainOptions,
                start: Optional[ModelBundle] = None) -> TrainedModel:
    """Fit ``model_name`` (from ``start``'s weights when given: fine-tuning) on
    ``prepared``'s train split, refit its n-gram gate when it has one
    (:func:`refit_model_words`), choose its thresholds on the validation split (call
    level) and measure the validation and test splits."""
    config, vocabulary, windows = prepared.config, prepared.vocabulary, prepared.windows
    fit = fit_model(model_name, train=windows["train"], validation=windows["validation"],
                    vocabulary=vocabulary, config=config, options=options,
                    start=None if start is None else start.model)
    gate = (refit_model_words(fit.model, train=windows["train"],
                              validation=windows["validation"], l2=options.gate_l2)
            if spec.GATE_OUTPUT in builders.model_output_names(model_name) else None)
    bundle = in_memory_bundle(model=fit.model, name=model_name, vocabulary=vocabulary,
                              config=config)
    measured = measure_model(bundle, windows, recall_target=options.recall_target)
    metrics = {**measured.metrics,
               "training": {"history": fit.history, "epochs_run": fit.epochs_run,
                            "best_epoch": fit.best_epoch}}
    thresholds = measured.thresholds
    created = datetime.datetime.now(datetime.timezone.utc)
    metadata = {
        "model_name": model_name,
        "model_version": model_version(created=created, digest=weights_digest(fit.model)),
        "created_at": created.isoformat(timespec="seconds"),
        "weights_origin": (builders.weights_origin(weights_path=options.vgg_weights)
                           if start is None else
                           f"fine-tuned:{start.model_name}:{start.model_version}"),
        "training": {
            "archive": prepared.archive,
            "reviewed": list(prepared.reviewed),
            "data_sources": prepared.data_sources(),
            "splits": split_sizes(prepared.splits),
            "hours": total_hours(prepared.features.calls),
            "failed_calls": len(prepared.features.errors),
            "epochs_requested": options.epochs,
            "epochs_run": fit.epochs_run,
            "best_epoch": fit.best_epoch,
            "train_seconds": round(fit.seconds, 1),
            "train_windows": fit.train_windows,
            "seed": options.seed,
            "batch_size": options.batch_size,
            "learning_rate": options.learning_rate,
            "early_stopping": f"{MONITOR}, patience {options.patience}",
            "text_dropout": options.text_dropout,
            "token_dropout": options.token_dropout,
            "text_swap": options.text_swap,
            "time_shift": options.time_shift,
            "audio_pooling": builders.audio_pooling_of(model_name, options.audio_pooling),
            "parameter_count": int(fit.model.count_params()),
            "vocabulary_size": len(vocabulary),
            "emergency_threshold_rule": f"validation recall >= {options.recall_target}",
            "recall_target": options.recall_target,
            "feature_config": f"{config.n_mels} mels x {config.n_frames} frames, "
                              f"fingerprint {config.fingerprint()}",
        },
    }
    if gate is not None:
        metadata[GATE_FIT_KEY] = {**gate, "archive": prepared.archive}
    metadata[PRECISION_CHECKS_KEY] = {"bfloat16": precision_check_record(
        measured.bfloat16_check, model_version=metadata["model_version"],
        thresholds=thresholds)}
    return TrainedModel(
        bundle=dataclasses.replace(bundle, metadata=metadata, thresholds=thresholds,
                                   metrics=metrics),
        fit=fit, metrics=metrics, test_seconds=measured.test_seconds)


def write_bundle(bundle: ModelBundle, *, out: str) -> None:
    """Save ``bundle`` with :func:`save_bundle` at ``out``, with its model card."""
    save_bundle(path=out, model=bundle.model, vocabulary=bundle.vocabulary,
                config=bundle.config, metadata=bundle.metadata, thresholds=bundle.thresholds,
                metrics=bundle.metrics,
                model_card=model_card(metadata={**bundle.metadata,
                                                "thresholds": bundle.thresholds},
                                      metrics=bundle.metrics))
    LOG.info("wrote bundle %s (%s %s)", out, bundle.model_name, bundle.model_version)


def starting_bundle(path: str, *, model_name: Optional[str]) -> ModelBundle:
    """The bundle ``train --from`` fine-tunes, in float32; ConfigError when it is of
    another architecture than ``model_name`` (None: any)."""
    bundle = load_bundle(path)
    if model_name is not None and bundle.model_name != model_name:
        raise ConfigError(f"bundle {path} is a {bundle.model_name} model, not {model_name}")
    return bundle


def train_bundle(*, archive: str, model_name: Optional[str], out: str, options: TrainOptions,
                 config: FeatureConfig = spec.DEFAULT_FEATURES, cache_dir: Optional[str],
                 workers: Optional[int] = None, reviewed: Sequence[str] = (),
                 start_from: Optional[str] = None,
                 label_mapping: Optional[LabelMapping] = None) -> TrainedModel:
    """``call-triage train``: fit ``model_name`` (default :data:`DEFAULT_MODEL`) on
    ``archive`` (plus the calls analysts reviewed under the report roots ``reviewed``, in
    the train split), write the bundle at ``out`` and print its test-split figures. With
    ``start_from`` it fine-tunes that bundle: its weights, vocabulary (new words are OOV)
    and feature config are the start."""
    start = None if start_from is None else starting_bundle(start_from, model_name=model_name)
    if start is not None:
        model_name, config = start.model_name, start.config
    model_name = model_name or DEFAULT_MODEL
    prepared = prepare_archive(archive, config=config, cache_dir=cache_dir, workers=workers,
                               input_names=builders.model_input_names(model_name),
                               reviewed=reviewed, label_mapping=label_mapping,
                               vocabulary=None if start is None else start.vocabulary)
    trained = train_model(prepared, model_name=model_name, options=options, start=start)
    write_bundle(trained.bundle, out=out)
    print(format_metrics(trained.metrics["test"],
                         title=f"{model_name} {trained.bundle.model_version}: "
                               f"test split of {archive}"))
    return trained
