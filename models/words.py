"""The multimodal model's words models and verdict, fitted exactly once the network is trained.

The words models (:class:`models.layers.NgramLogit`) are linear models over the distinct
n-grams and the lexicon groups (:mod:`transforms.lexicon`) of a transcript: the gate
(``GATE_LAYER``, "the words report a real emergency"), the words' prank
(``WORDS_PRANK_LAYER``) and the words' category (``WORDS_CATEGORY_LAYER``). During training
they learn with the rest of the network, by SGD on windows whose transcripts are mostly
blanked, partly made OOV or swapped. That leaves them unsure of scripts they never read, so
``call-triage train`` refits them after the fit (:func:`refit_words`): one row per training
call whose transcript the layers read whole (:func:`models.layers.reads_whole_transcript`),
its distinct unigrams and hashed bigrams as binary features and its lexicon groups
(:func:`words_design`, the layer's own featurisation), an L2-penalised logistic regression
(scikit-learn's, multinomial for the category; the bias is not penalised). The optimum is
unique, so the refit depends on the training transcripts and the penalty alone.

Last, :func:`calibrate_verdict` fits the coefficients of the verdict
(:class:`models.layers.CalibratedVerdict`) by logistic regression on the validation split's
windows, whose scripts the network and the words models never saw: the verdict becomes a
probability calibrated on unseen scripts, and the weight of each modality is what those
scripts support.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Mapping, Sequence

import keras
import numpy as np
import scipy.sparse
from sklearn.linear_model import LogisticRegression

from models.layers import (
    GATE_LAYER,
    VERDICT_COEFFICIENTS,
    WORDS_CATEGORY_LAYER,
    WORDS_PRANK_LAYER,
    CalibratedVerdict,
    NgramLogit,
    distinct_ngrams,
    logit,
    reads_whole_transcript,
)
from transforms import spec
from transforms.errors import ConfigError
from transforms.features import CallFeatures

#: The default L2 penalty of the words models' refit (on the summed log loss).
DEFAULT_GATE_L2 = 1.0
#: The L2 penalty of the verdict's calibration (on the summed log loss of the validation
#: windows): mild, as it fits a handful of coefficients on hundreds of windows.
CALIBRATION_L2 = 1.0
#: Logit given to a category no training transcript has (its weights stay 0).
ABSENT_CLASS_LOGIT = -20.0
LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WordsFit:
    """One fitted words model: ``weights`` float32 (vocab_size + bigram_buckets +
    lexicon_size, units) in the order of :func:`words_design`'s columns and ``bias``
    float32 (units,); the penalty ``l2``, the number of ``calls`` it was fitted on and of
    them ``positives`` (binary) or the calls per class (multinomial), its mean training log
    loss (nats per call) and whether the solver ``converged``."""

    weights: np.ndarray
    bias: np.ndarray
    l2: float
    calls: int
    class_counts: dict[str, int]
    log_loss: float
    converged: bool

    def summary(self) -> dict:
        """What the bundle's metadata records of the fit."""
        return {"l2": self.l2, "calls": self.calls, "class_counts": self.class_counts,
                "log_loss": round(self.log_loss, 4), "converged": self.converged}


def check_gate_l2(l2: float) -> None:
    """Raise ConfigError unless ``l2`` is a finite number > 0 (without a penalty the
    optimum would not be unique)."""
    if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 > 0):
        raise ConfigError(f"gate_l2={l2} must be a finite number > 0")


def words_design(tokens: np.ndarray, lexicon: np.ndarray, *, vocab_size: int,
                 bigram_buckets: int) -> scipy.sparse.csr_matrix:
    """The features a words model sees: float64 CSR (n, vocab_size + bigram_buckets +
    lexicon.shape[1]) for ``tokens`` int (n, text_length) (0 = PAD) and ``lexicon`` float
    (n, groups): 1 in column ``id`` for each distinct unigram, in column ``vocab_size +
    bucket`` for each distinct hashed bigram (:func:`models.layers.distinct_ngrams`), then
    the lexicon values, so that ``design @ weights + bias`` is the layer's logits."""
    ngrams = distinct_ngrams(np.asarray(tokens, dtype=np.int32), bigram_buckets=bigram_buckets)
    ids = np.concatenate([keras.ops.convert_to_numpy(ngrams.unigrams),
                          keras.ops.convert_to_numpy(ngrams.bigrams) + vocab_size], axis=1)
    counted = np.concatenate([keras.ops.convert_to_numpy(ngrams.unigram_counted),
                              keras.ops.convert_to_numpy(ngrams.bigram_counted)], axis=1) > 0
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    ngram_part = scipy.sparse.csr_matrix(
        (np.ones(int(counted.sum())), (rows[counted], ids[counted])),
        shape=(len(ids), vocab_size + bigram_buckets))
    return scipy.sparse.hstack(
        [ngram_part, scipy.sparse.csr_matrix(np.asarray(lexicon, dtype=np.float64))],
        format="csr")


def fit_words_model(design: scipy.sparse.csr_matrix, labels: np.ndarray, *, l2: float,
                    n_classes: int, class_names: Sequence[str]) -> WordsFit:
    """The L2 logistic regression of ``labels`` int (n,) in ``[0, n_classes)`` on
    ``design`` (n, k): binary (one unit, the logit of class 1) when ``n_classes`` is 2,
    else multinomial (``n_classes`` units; a class absent from ``labels`` keeps weights 0
    and bias :data:`ABSENT_CLASS_LOGIT`). Raises ConfigError for a bad ``l2``, labels that
    do not match the design's rows, or fewer than two classes present."""
    check_gate_l2(l2)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (design.shape[0],):
        raise ConfigError(f"{labels.shape[0] if labels.ndim else 0} labels for a design of "
                          f"{design.shape[0]} rows")
    present = np.unique(labels)
    counts = {class_names[c]: int((labels == c).sum()) for c in range(n_classes)}
    if len(present) < 2:
        raise ConfigError(f"a words model needs transcripts of two classes or more to learn "
                          f"from; it has {counts}")
    solver = LogisticRegression(C=1.0 / l2, max_iter=3000, tol=1e-6)
    solver.fit(design, labels)
    converged = bool(np.all(solver.n_iter_ < solver.max_iter))
    if not converged:
        LOG.warning("a words model's logistic regression stopped before converging")
    probabilities = solver.predict_proba(design)
    picked = probabilities[np.arange(len(labels)), np.searchsorted(solver.classes_, labels)]
    log_loss = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))
    if n_classes == 2:
        weights, bias = solver.coef_.T, solver.intercept_
    else:
        weights = np.zeros((design.shape[1], n_classes))
        bias = np.full(n_classes, ABSENT_CLASS_LOGIT)
        if len(solver.classes_) == 2:  # scikit-learn fits two classes as one logit
            bias[solver.classes_[0]] = 0.0
            weights[:, solver.classes_[1]] = solver.coef_[0]
            bias[solver.classes_[1]] = solver.intercept_[0]
        else:
            weights[:, solver.classes_] = solver.coef_.T
            bias[solver.classes_] = solver.intercept_
    return WordsFit(weights=weights.astype(np.float32), bias=bias.astype(np.float32), l2=l2,
                    calls=int(labels.size), class_counts=counts, log_loss=log_loss,
                    converged=converged)


def call_rows(values: np.ndarray, call_windows: Sequence[slice]) -> np.ndarray:
    """One row per call: the first window's row of ``values`` (n_windows, ...) (every
    window of a call carries its transcript)."""
    return np.stack([values[rows.start] for rows in call_windows])


def _assign(layer: NgramLogit, fit: WordsFit) -> None:
    """Set ``layer``'s weights to ``fit``'s."""
    rows = np.cumsum([layer.vocab_size, layer.bigram_buckets])
    unigram, bigram, lexicon = np.split(fit.weights, rows)
    layer.unigram.assign(unigram)
    layer.bigram.assign(bigram)
    layer.lexicon.assign(lexicon)
    layer.bias.assign(fit.bias)


def _words_layer(model: keras.Model, name: str) -> NgramLogit:
    try:
        layer = model.get_layer(name)
    except ValueError as error:
        raise ConfigError(f"model {model.name!r} has no words model {name!r}") from error
    if not isinstance(layer, NgramLogit) or not layer.lexicon_size:
        raise ConfigError(f"layer {name!r} of model {model.name!r} is not a words model "
                          "(an NgramLogit with a lexicon)")
    return layer


def _never(design: scipy.sparse.csr_matrix, *, l2: float) -> WordsFit:
    """The prank words model of training transcripts without a prank: logit
    :data:`ABSENT_CLASS_LOGIT` whatever the words (logged as a warning)."""
    LOG.warning("the training transcripts hold no prank: the words' prank model will never "
                "call one a prank (the repeat-caller and mismatch rules still apply)")
    return WordsFit(weights=np.zeros((design.shape[1], 1), np.float32),
                    bias=np.array([ABSENT_CLASS_LOGIT], np.float32), l2=l2,
                    calls=design.shape[0], class_counts={"other": design.shape[0], "prank": 0},
                    log_loss=0.0, converged=True)


def refit_words(model: keras.Model, *, calls: Sequence[CallFeatures], tokens: np.ndarray,
                lexicon: np.ndarray, l2: float = DEFAULT_GATE_L2) -> dict[str, WordsFit]:
    """Refit ``model``'s three words models on ``calls`` and their per-call ``tokens`` int
    (len(calls), text_length) and ``lexicon`` float (len(calls), groups)
    (:func:`call_rows`), in place, on the transcripts the layers read whole: the gate on
    ``emergency`` against the rest, the prank model on ``prank`` against the rest (never a
    prank, with a warning, when no transcript is one), the category model on the calls'
    categories. Returns {layer name: fit}; raises ConfigError when the transcripts lack
    emergencies, other calls or a second category."""
    if not len(tokens) == len(lexicon) == len(calls):
        raise ConfigError(f"{len(tokens)} token rows and {len(lexicon)} lexicon rows for "
                          f"{len(calls)} calls")
    layers = {name: _words_layer(model, name)
              for name in (GATE_LAYER, WORDS_PRANK_LAYER, WORDS_CATEGORY_LAYER)}
    gate = layers[GATE_LAYER]
    read = keras.ops.convert_to_numpy(reads_whole_transcript(tokens))[:, 0]
    design = words_design(tokens[read], lexicon[read], vocab_size=gate.vocab_size,
                          bigram_buckets=gate.bigram_buckets)
    read_calls = [call for call, kept in zip(calls, read) if kept]
    labels = np.array([call.record.label for call in read_calls])
    categories = np.array([spec.CATEGORIES.index(call.record.category)
                           if call.record.category in spec.CATEGORIES else -1
                           for call in read_calls])
    known = categories >= 0
    pranks = labels == "prank"
    fits = {
        GATE_LAYER: fit_words_model(design, labels == "emergency", l2=l2, n_classes=2,
                                    class_names=("other", "emergency")),
        WORDS_PRANK_LAYER: (fit_words_model(design, pranks, l2=l2, n_classes=2,
                                            class_names=("other", "prank"))
                            if pranks.any() else _never(design, l2=l2)),
        WORDS_CATEGORY_LAYER: fit_words_model(design[known], categories[known], l2=l2,
                                              n_classes=len(spec.CATEGORIES),
                                              class_names=spec.CATEGORIES),
    }
    for name, fit in fits.items():
        _assign(layers[name], fit)
    return fits


def _verdict_layer(model: keras.Model) -> CalibratedVerdict:
    layer = model.get_layer(spec.EMERGENCY_OUTPUT)
    if not isinstance(layer, CalibratedVerdict):
        raise ConfigError(f"model {model.name!r} has no calibrated verdict")
    return layer


def _logistic(features: np.ndarray, labels: np.ndarray, weights: np.ndarray
              ) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) of the weighted logistic regression of ``labels`` on
    ``features`` (n, k), penalised by :data:`CALIBRATION_L2`."""
    solver = LogisticRegression(C=1.0 / CALIBRATION_L2, max_iter=1000)
    solver.fit(features, labels, sample_weight=weights)
    return solver.coef_[0], float(solver.intercept_[0])


def calibrate_verdict(model: keras.Model, *, inputs: Mapping[str, np.ndarray],
                      targets: np.ndarray, weights: np.ndarray, batch_size: int = 64
                      ) -> dict[str, float]:
    """Fit the coefficients of ``model``'s :class:`~models.layers.CalibratedVerdict` on
    held-out windows, in place: ``inputs`` the model's inputs of N windows, ``targets``
    float (N,) their emergency targets and ``weights`` float (N,) their weights (0 leaves
    a window out). The with-words coefficients are fitted on the windows whose transcript
    is read whole; the audio-alone ones on every window, scored by its sound. Returns
    {coefficient name: value} (:data:`VERDICT_COEFFICIENTS`)."""
    outputs = model.predict(dict(inputs), batch_size=batch_size, verbose=0)
    audio, gate, text = (np.asarray(keras.ops.convert_to_numpy(
        logit(outputs[name])), dtype=np.float64)[:, 0]
        for name in (spec.AUDIO_OUTPUT, spec.GATE_OUTPUT, spec.TEXT_OUTPUT))
    labels = np.asarray(targets).reshape(-1) >= 0.5
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    read = keras.ops.convert_to_numpy(reads_whole_transcript(inputs[spec.TOKENS_INPUT]))[:, 0]
    used = read & (weights > 0)
    if len(np.unique(labels[used])) < 2 or len(np.unique(labels[weights > 0])) < 2:
        raise ConfigError("the verdict's calibration needs emergency and other windows")
    with_words, bias = _logistic(np.stack([gate, audio, text], axis=1)[used], labels[used],
                                 weights[used])
    alone, bias_alone = _logistic(audio[weights > 0, None], labels[weights > 0],
                                  weights[weights > 0])
    coefficients = np.array([*with_words, bias, alone[0], bias_alone], dtype=np.float32)
    _verdict_layer(model).coefficients.assign(coefficients)
    return dict(zip(VERDICT_COEFFICIENTS, (round(float(c), 4) for c in coefficients)))
