"""Training: fit one architecture on a labelled archive's train split and ship a bundle.

:func:`fit_model` compiles and fits a model from :mod:`models.builders` on window sets
(Adam; binary cross-entropy on the sigmoid heads, sparse categorical cross-entropy on the
category head with masked windows weighted 0; balanced class weights on the emergency head;
early stopping on the validation split's call-level ROC AUC, best weights restored).
:func:`train_bundle` is ``call-triage train``: features → splits → fit → the multimodal
words models refitted and the verdict calibrated on the validation split (:mod:`models.words`;
the kept epoch was chosen with the network's own) → thresholds chosen on the validation
split at call level → test-split metrics →
:func:`models.bundle.save_bundle`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import sys
import time
from typing import Any, Mapping, Optional, Sequence

import keras
import numpy as np

from models import builders
from models.bundle import ModelBundle, save_bundle
from models.dataset import (
    ArchiveFeatures,
    WindowSet,
    balanced_weights,
    build_vocabulary,
    load_archive_features,
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
    format_precision_check,
    precision_check,
    score_calls,
)
from models.words import (DEFAULT_GATE_L2, WordsFit, calibrate_verdict, call_rows,
                          check_gate_l2, refit_words)
from models.layers import reads_whole_transcript
from models.precision import PRECISION_CHECKS_KEY, precision_check_record, resolve_precision
from transforms import spec
from transforms.errors import ConfigError
from transforms.features import CallFeatures
from transforms.spec import FeatureConfig
from transforms.text import OOV_ID, PAD_ID, Vocabulary

LOG = logging.getLogger(__name__)


#: The figure early stopping watches, and by which the kept epoch is chosen: the emergency
#: verdict's ROC AUC over the validation split's calls, each scored as the nightly job
#: scores it (max over its windows; :class:`CallLevelValidation`). The fused head's window
#: loss swings from epoch to epoch with how the text branch meets the validation split's
#: unseen templates (0.24 → 0.71 → 0.31 in three epochs), and stopped fits after a few
#: epochs, before the audio branch had learned much.
MONITOR = "val_call_auc"
#: The ``bundle.json`` key that records how the words models were refitted and the verdict
#: calibrated (:func:`refit_model_words`, plus the archive and, for ``call-triage
#: refit-gate``, the version refitted).
GATE_FIT_KEY = "gate_fit"


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
    sound and words (:func:`swap_transcripts`: a claimed emergency over audio that does
    not carry one is a prank; the verdict needs both).
    ``time_shift``: roll every training window's log-mel along time by a random number of
    frames each epoch (:func:`roll_frames`), so the audio branch sees sounds at every
    position of its window (most useful to a Flatten → Dense head, which is tied to
    positions). ``logdir``: TensorBoard logs.
    ``vgg_weights``: a local ImageNet VGG-16 (no top) weights file for ``vgg16_transfer``.
    ``audio_pooling``: how the CNN audio branch pools its maps (``builders.AUDIO_POOLINGS``;
    ``None``: the model's default; models with that branch only).
    ``gate_l2``: the L2 penalty of the words models' refit after the fit (multimodal only;
    :mod:`models.words`)."""

    epochs: int = 20
    batch_size: int = 32
    seed: int = 1
    learning_rate: float = 1e-3
    patience: int = 3
    max_train_windows: Optional[int] = None
    text_dropout: float = 0.5
    token_dropout: float = 0.2
    text_swap: float = 0.0
    time_shift: bool = True
    logdir: Optional[str] = None
    vgg_weights: Optional[str] = None
    audio_pooling: Optional[str] = None
    gate_l2: float = DEFAULT_GATE_L2

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


def roll_frames(log_mel: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each window of ``log_mel`` (n, n_mels, n_frames[, 1]) rolled along its frames (axis
    2) by ``shifts`` (n,) frames, circularly; a new array of the same shape and dtype."""
    n_frames = log_mel.shape[2]
    source = (np.arange(n_frames)[None, :] - shifts[:, None]) % n_frames
    index = source.reshape((len(log_mel), 1, n_frames) + (1,) * (log_mel.ndim - 3))
    return np.take_along_axis(log_mel, index, axis=2)


#: The targets a transcript decides, which a swapped transcript brings with it.
TRANSCRIPT_TARGETS = (spec.TEXT_OUTPUT, spec.GATE_OUTPUT)


def swap_transcripts(inputs: dict[str, np.ndarray], targets: dict[str, np.ndarray], *,
                     swapped: np.ndarray, donor_tokens: np.ndarray,
                     donor_targets: Mapping[str, np.ndarray],
                     donor_lexicon: Optional[np.ndarray] = None) -> None:
    """Give the ``swapped`` rows (bool (n,)) of a batch other windows' transcripts, in place.

    ``donor_tokens`` int32 (k, text_length), ``donor_lexicon`` float32 (k, groups) (for a
    model with a ``lexicon`` input) and ``donor_targets`` the donors' targets (each
    float32 (k, 1)), with k = ``swapped.sum()``. The swapped rows take the donors'
    :data:`TRANSCRIPT_TARGETS` that ``targets`` has, and then follow the new pair of sound
    and words: ``PRANK_OUTPUT`` (when present) becomes the claim without emergency audio,
    ``claim · (1 − audio)``, and, for a model whose verdict is gated by the words
    (``GATE_OUTPUT`` present), ``EMERGENCY_OUTPUT`` becomes ``audio · gate``, with
    ``gate`` 1 for a donor transcript the gate does not read (:func:`gate_reads`). ``audio`` is
    the row's ``AUDIO_OUTPUT`` target, or its ``EMERGENCY_OUTPUT`` one without it; every
    other target is left as it is.
    """
    inputs[spec.TOKENS_INPUT][swapped] = donor_tokens
    if spec.LEXICON_INPUT in inputs:
        inputs[spec.LEXICON_INPUT][swapped] = donor_lexicon
    for name in TRANSCRIPT_TARGETS:
        if name in targets:
            targets[name][swapped] = donor_targets[name]
    audio = targets.get(spec.AUDIO_OUTPUT, targets[spec.EMERGENCY_OUTPUT])[swapped]
    if spec.PRANK_OUTPUT in targets:
        targets[spec.PRANK_OUTPUT][swapped] = donor_targets[spec.TEXT_OUTPUT] * (1.0 - audio)
    if spec.GATE_OUTPUT in targets:
        gate = np.where(gate_reads(donor_tokens), donor_targets[spec.GATE_OUTPUT], 1.0)
        targets[spec.EMERGENCY_OUTPUT][swapped] = audio * gate


def gate_reads(tokens: np.ndarray) -> np.ndarray:
    """bool (n, 1): the rows of ``tokens`` int (n, text_length) whose transcript the
    verdict's gate reads (:func:`models.layers.reads_whole_transcript`)."""
    return keras.ops.convert_to_numpy(reads_whole_transcript(tokens))


def drop_unread_gate_weights(weights: dict[str, np.ndarray], tokens: np.ndarray) -> None:
    """Set the ``GATE_OUTPUT`` weights (when present) of the windows whose transcript the
    gate does not read (:func:`gate_reads`: none, or cut off) to 0, in place: the verdict
    is their audio's, and the gate learns nothing from words it did not see whole."""
    if spec.GATE_OUTPUT in weights:
        weights[spec.GATE_OUTPUT] = np.where(gate_reads(tokens)[:, 0],
                                             weights[spec.GATE_OUTPUT], 0.0)


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled training batches ``(inputs, targets, sample_weights)``, reshuffled every
    epoch, with the augmentations of :class:`TrainOptions`: transcripts swapped between
    windows (:func:`swap_transcripts`), blanked or tokens made OOV (a window whose tokens
    are blanked gets weight 0 on the text-only head, and so on the gate, with any other
    transcript the gate does not read: :func:`drop_unread_gate_weights`) and, with
    ``time_shift``, log-mel windows rolled in time."""

    def __init__(self, *, inputs: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray],
                 weights: Mapping[str, np.ndarray], batch_size: int, seed: int,
                 text_dropout: float, token_dropout: float, text_swap: float = 0.0,
                 time_shift: bool = False) -> None:
        super().__init__()
        self._inputs, self._targets, self._weights = inputs, targets, weights
        self._n = len(next(iter(inputs.values())))
        self._batch_size = batch_size
        self._text_dropout, self._token_dropout = text_dropout, token_dropout
        self._text_swap = text_swap
        self._time_shift = time_shift
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(self._n)

    def __len__(self) -> int:
        return -(-self._n // self._batch_size)

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(self._n)

    def __getitem__(self, index: int) -> tuple[dict, dict, dict]:
        rows = np.sort(self._order[index * self._batch_size:(index + 1) * self._batch_size])
        inputs = {name: array[rows] for name, array in self._inputs.items()}
        targets = {name: array[rows] for name, array in self._targets.items()}
        weights = {name: array[rows] for name, array in self._weights.items()}
        if self._time_shift and spec.LOGMEL_INPUT in inputs:
            log_mel = inputs[spec.LOGMEL_INPUT]
            shifts = self._rng.integers(0, log_mel.shape[2], size=len(rows))
            inputs[spec.LOGMEL_INPUT] = roll_frames(log_mel, shifts)
        if spec.TOKENS_INPUT in inputs:
            if self._text_swap and spec.TEXT_OUTPUT in targets:
                swapped = self._rng.random(len(rows)) < self._text_swap
                donors = self._rng.integers(0, self._n, size=int(swapped.sum()))
                swap_transcripts(inputs, targets, swapped=swapped,
                                 donor_tokens=self._inputs[spec.TOKENS_INPUT][donors],
                                 donor_lexicon=(self._inputs[spec.LEXICON_INPUT][donors]
                                                if spec.LEXICON_INPUT in self._inputs
                                                else None),
                                 donor_targets={name: self._targets[name][donors]
                                                for name in TRANSCRIPT_TARGETS
                                                if name in self._targets})
            tokens = inputs[spec.TOKENS_INPUT]
            blank = self._rng.random(len(rows)) < self._text_dropout
            oov = (self._rng.random(tokens.shape) < self._token_dropout) & (tokens != PAD_ID)
            tokens[oov] = OOV_ID
            tokens[blank] = PAD_ID
            if spec.LEXICON_INPUT in inputs:
                inputs[spec.LEXICON_INPUT][blank] = 0.0
            if spec.TEXT_OUTPUT in weights:
                weights[spec.TEXT_OUTPUT] = np.where(blank, 0.0, weights[spec.TEXT_OUTPUT])
            drop_unread_gate_weights(weights, tokens)
        return inputs, targets, weights


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
    does not read the transcript (:func:`drop_unread_gate_weights`), and with ``balance``
    the emergency weights are multiplied by :func:`balanced_weights` of its targets."""
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
              config: FeatureConfig, options: TrainOptions) -> FitResult:
    """Build model ``name`` (seeded with ``options.seed``), compile and fit it.

    Losses and loss weights are :func:`builders.default_losses` /
    :func:`builders.default_loss_weights`; the emergency head's windows are weighted to
    balance its classes; category targets of masked windows weigh 0; batches come from
    :class:`TrainingBatches`. Progress is Keras's (a bar on a terminal, one line per
    epoch otherwise).
    """
    model = builders.build_model(name, config=config, vocab_size=len(vocabulary),
                                 seed=options.seed,
                                 vgg_weights=options.vgg_weights,
                                 audio_pooling=options.audio_pooling)
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


def _figure(value: Optional[float], digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _precision_line(metadata: Mapping[str, Any]) -> str:
    """The model card's line on the bfloat16 check ``train`` made
    (:func:`models.evaluate.precision_check`)."""
    check = metadata.get(PRECISION_CHECKS_KEY, {}).get("bfloat16")
    if check is None:
        return ""
    precision, _ = resolve_precision("auto", metadata=metadata, native=True)
    verdict = ("so `--inference_precision auto` scores in bfloat16 on CPUs that compute it "
               "natively" if precision == "bfloat16" else
               "so `--inference_precision auto` keeps float32")
    return (f"- bfloat16 on the {check['split']} split ({check['calls']} calls): "
            f"{format_precision_check(check)};\n  {verdict}.\n")


def _calibration_rows(calibration: Mapping[str, Any]) -> str:
    """The reliability table's rows: one per score bin with calls."""
    return "\n".join(f"| {score:.3f} | {share:.3f} | {calls} |" for score, share, calls in zip(
        calibration["mean_score"], calibration["fraction_positive"], calibration["calls"]))


def model_card(*, metadata: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The bundle's MODEL_CARD.md: data, date, figures, intended use and limits."""
    training, test, validation = metadata["training"], metrics["test"], metrics["validation"]
    sizes = training["splits"]
    rows = "\n".join(
        f"| {split} | {size['calls']} | {size['windows']} | {size['emergency']} | "
        f"{size['normal']} | {size['prank']} |" for split, size in sizes.items())
    categories = "\n".join(
        f"| {slug} | {entry['correct']}/{entry['n']} | {entry['accuracy']:.3f} |"
        for slug, entry in test["category"]["per_category"].items())
    prank = test.get("prank")
    prank_line = ("" if prank is None else
                  f"- prank head (threshold {prank['threshold']:.3f}): precision "
                  f"{_figure(prank['precision'])}, recall {_figure(prank['recall'])}, "
                  f"ROC AUC {_figure(prank['roc_auc'])}\n")
    counts = test["confusion_matrix"]
    pooling = ("" if training["audio_pooling"] is None
               else f"; audio pooling `{training['audio_pooling']}`")
    gate = metadata.get(GATE_FIT_KEY)
    made_by = ("`call-triage refit-gate` from a bundle of `call-triage train`"
               if gate is not None and "refitted_from" in gate else "`call-triage train`")
    gate_line = ("" if gate is None else
                 f"- the words models (gate, prank, category: n-grams and lexicon groups) "
                 f"were refitted after the fit and the verdict calibrated: {gate['method']}, "
                 f"L2 {gate['l2']:g}, {gate['words_models']['text_ngrams']['calls']} "
                 f"transcripts of `{gate['archive']}`"
                 + (f", from version {gate['refitted_from']}" if "refitted_from" in gate
                    else "")
                 + f"; verdict coefficients {gate['verdict_coefficients']};\n")
    return f"""# Model card: {metadata['model_name']} {metadata['model_version']}

Created {metadata['created_at']} by {made_by} (seed {training['seed']}).

## Model
- architecture `{metadata['model_name']}` ({training['parameter_count']:,} parameters{pooling}),
  weights from `{metadata['weights_origin']}`;
- input: 7-s log-mel windows ({training['feature_config']}) plus, for the multimodal
  model, the caller's transcript as Okt tokens (vocabulary of {training['vocabulary_size']});
- outputs per window: emergency probability, category (16-way), and for the multimodal
  model audio-only, text-only (a claim), prank and text-gate probabilities; the multimodal
  emergency probability is a logistic combination of the gate (the words report a real
  emergency), the audio-only and the text-only scores, calibrated on the validation split
  (of the audio alone without a transcript or with one longer than the token input); the
  category and prank come from the words models when there is a transcript; calls take
  the max over windows.
{gate_line}- emergency threshold {metadata['thresholds']['emergency']:.4f}: chosen on the validation
  split (call level) to keep recall >= {EMERGENCY_MIN_RECALL} with the fewest false alarms.
{_precision_line(metadata)}
## Data
Archive `{training['archive']}` ({training['hours']:.2f} h of audio), split by the
manifest's `split` column:

| split | calls | windows | emergency | normal | prank |
|---|---|---|---|---|---|
{rows}

Fitted for {training['epochs_run']} epochs (kept: {training['best_epoch']}, early stopping on
{training['early_stopping']}) in {training['train_seconds']:.0f} s on
{training['train_windows']} training windows; transcript dropout {training['text_dropout']},
token dropout {training['token_dropout']}, transcript swap {training['text_swap']},
log-mel time shift {'on' if training['time_shift'] else 'off'},
Adam {training['learning_rate']}, batch {training['batch_size']}.

## Figures on the held-out test split (call level)
- accuracy {_figure(test['accuracy'])}, precision {_figure(test['precision'])},
  recall {_figure(test['recall'])}, F1 {_figure(test['f1'])}, ROC AUC {_figure(test['roc_auc'])}
- confusion: {counts['tp']} emergencies flagged, {counts['fn']} missed,
  {counts['fp']} false alarms, {counts['tn']} correctly not flagged
- category accuracy {_figure(test['category']['accuracy'])}
{prank_line}
| category | correct | accuracy |
|---|---|---|
{categories}

## Figures on the validation split (call level; thresholds and calibration fitted here)
- accuracy {_figure(validation['accuracy'])}, recall {_figure(validation['recall'])},
  precision {_figure(validation['precision'])}, ROC AUC {_figure(validation['roc_auc'])},
  category accuracy {_figure(validation['category']['accuracy'])}

## Calibration of the emergency score (call level)
Expected calibration error: validation {_figure(validation['calibration']['ece'])},
test {_figure(test['calibration']['ece'])}. Validation calls per score bin:

| mean score | share of emergencies | calls |
|---|---|---|
{_calibration_rows(validation['calibration'])}

## Intended use
Ranking and flagging archived emergency calls for review by analysts of an emergency
call centre (nightly `call-triage run`), never to decide how a live call is handled.

## Limits
- Trained on the archive above. When it is the synthetic corpus of `call-triage synth`
  (synthetic speech and sounds, template transcripts), the figures say that the pipeline
  learns what it is shown, not how it does on real calls: retrain and re-evaluate on real,
  labelled calls (e.g. AI Hub 119 data) before relying on it.
- Pranks are learned only as far as the archive has them; the prank head is one of
  several prank reasons in the triage job.
- Korean transcripts only (Okt tokens); audio at 16 kHz after resampling, 7-s windows.
"""


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedArchive:
    """A labelled archive ready to fit on: its features, labelled calls per split, the
    vocabulary of the train split and each split's :class:`WindowSet`."""

    archive: str
    config: FeatureConfig
    features: ArchiveFeatures
    splits: dict[str, tuple[CallFeatures, ...]]
    vocabulary: Vocabulary
    windows: dict[str, WindowSet]


def prepare_archive(archive: str, *, config: FeatureConfig, input_names: Sequence[str],
                    cache_dir: Optional[str], workers: Optional[int] = None
                    ) -> PreparedArchive:
    """Features (cached) → splits → train vocabulary → window sets with ``input_names``.

    Raises ConfigError when a split has no labelled calls.
    """
    features = load_archive_features(archive, config=config, cache_dir=cache_dir,
                                     workers=workers)
    splits = split_calls(features.calls)
    empty = [name for name, calls in splits.items() if not calls]
    if empty:
        raise ConfigError(f"archive {archive!r} has no labelled calls in split(s) {empty}")
    vocabulary = build_vocabulary(splits["train"])
    windows = {name: window_set(calls, vocab=vocabulary, config=config,
                                input_names=input_names)
               for name, calls in splits.items()}
    return PreparedArchive(archive=archive, config=config, features=features, splits=splits,
                           vocabulary=vocabulary, windows=windows)


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


def measure_model(bundle: ModelBundle, windows: Mapping[str, WindowSet]) -> Measured:
    """Score ``windows["validation"]`` and ``windows["test"]`` with ``bundle`` at call
    level, choose the thresholds on the validation calls (:func:`choose_thresholds`),
    measure both splits at them and check bfloat16 on the validation split."""
    validation = score_calls(bundle, windows["validation"])
    started = time.perf_counter()
    test = score_calls(bundle, windows["test"])
    test_seconds = time.perf_counter() - started
    thresholds = choose_thresholds(calls=windows["validation"].calls, scores=validation.calls)
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


def train_model(prepared: PreparedArchive, *, model_name: str, options: TrainOptions
                ) -> TrainedModel:
    """Fit ``model_name`` on ``prepared``'s train split, refit its n-gram gate when it has
    one (:func:`refit_model_gate`), choose its thresholds on the validation split (call
    level) and measure the validation and test splits."""
    config, vocabulary, windows = prepared.config, prepared.vocabulary, prepared.windows
    fit = fit_model(model_name, train=windows["train"], validation=windows["validation"],
                    vocabulary=vocabulary, config=config, options=options)
    gate = (refit_model_words(fit.model, train=windows["train"],
                              validation=windows["validation"], l2=options.gate_l2)
            if spec.GATE_OUTPUT in builders.model_output_names(model_name) else None)
    bundle = in_memory_bundle(model=fit.model, name=model_name, vocabulary=vocabulary,
                              config=config)
    measured = measure_model(bundle, windows)
    metrics = {**measured.metrics,
               "training": {"history": fit.history, "epochs_run": fit.epochs_run,
                            "best_epoch": fit.best_epoch}}
    thresholds = measured.thresholds
    created = datetime.datetime.now(datetime.timezone.utc)
    metadata = {
        "model_name": model_name,
        "model_version": model_version(created=created, digest=weights_digest(fit.model)),
        "created_at": created.isoformat(timespec="seconds"),
        "weights_origin": builders.weights_origin(weights_path=options.vgg_weights),
        "training": {
            "archive": prepared.archive,
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
            "emergency_threshold_rule": f"validation recall >= {EMERGENCY_MIN_RECALL}",
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


def train_bundle(*, archive: str, model_name: str, out: str, options: TrainOptions,
                 config: FeatureConfig = spec.DEFAULT_FEATURES, cache_dir: Optional[str],
                 workers: Optional[int] = None) -> TrainedModel:
    """``call-triage train``: fit ``model_name`` on ``archive``, write the bundle at ``out``
    and print its test-split figures."""
    prepared = prepare_archive(archive, config=config, cache_dir=cache_dir, workers=workers,
                               input_names=builders.model_input_names(model_name))
    trained = train_model(prepared, model_name=model_name, options=options)
    write_bundle(trained.bundle, out=out)
    print(format_metrics(trained.metrics["test"],
                         title=f"{model_name} {trained.bundle.model_version}: "
                               f"test split of {archive}"))
    return trained
