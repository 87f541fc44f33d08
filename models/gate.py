"""The multimodal verdict's n-gram gate, fitted exactly once the network is trained.

The gate (:class:`models.layers.NgramLogit` → sigmoid, ``spec.GATE_OUTPUT``) answers "do
the words report a real emergency?" with a linear model over the distinct n-grams of a
transcript. During training it learns with the rest of the network, by SGD on windows whose
transcripts are mostly blanked, partly made OOV or swapped, and it also takes the
verdict's gradient (``emergency = audio × gate``). That is what the audio head must learn
beside, but it leaves the gate unsure of scripts it never read: everyday calls of unseen
scripts sit at a gate of ~0.45, where a logistic regression of the same n-grams on the
clean training transcripts puts them at ~0.34 (models/README.md, "The verdict").

So ``call-triage train`` refits the gate after the fit (:func:`refit_gate`): one row per
training call whose transcript the gate reads whole (:func:`models.layers.
reads_whole_transcript`), its distinct unigrams and hashed bigrams as binary features
(:func:`ngram_design`, the layer's own featurisation), label ``emergency`` against the
rest, an L2 penalty on the n-gram weights (the bias is free), minimised by L-BFGS
(:func:`fit_ngram_logit`). The optimum is unique, so the refit depends on the training
transcripts and the penalty alone, not on a seed or an epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Sequence

import keras
import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.special

from models.layers import GATE_LAYER, NgramLogit, distinct_ngrams, reads_whole_transcript
from transforms.errors import ConfigError
from transforms.features import CallFeatures

#: The default L2 penalty of the refit (on the summed log loss): the gate's lowest log
#: loss on the validation split of a 5,000-call corpus (models/README.md, "The gate,
#: refitted").
DEFAULT_GATE_L2 = 1.0
LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GateFit:
    """A fitted gate: ``unigram`` float32 (vocab_size,), ``bigram`` float32
    (bigram_buckets,) and ``bias`` float32 (1,) weights of :class:`NgramLogit`, the
    penalty ``l2``, the number of ``calls`` (of them ``emergencies``) it was fitted on,
    its mean training log loss (nats per call), and whether L-BFGS ``converged`` (within
    ``iterations``)."""

    unigram: np.ndarray
    bigram: np.ndarray
    bias: np.ndarray
    l2: float
    calls: int
    emergencies: int
    log_loss: float
    converged: bool
    iterations: int

    def summary(self) -> dict:
        """What the bundle's metadata records of the fit."""
        return {"method": "L2 logistic regression (L-BFGS) on the train split's transcripts",
                "l2": self.l2, "calls": self.calls, "emergencies": self.emergencies,
                "log_loss": round(self.log_loss, 4), "converged": self.converged,
                "iterations": self.iterations}


def check_gate_l2(l2: float) -> None:
    """Raise ConfigError unless ``l2`` is a finite number > 0."""
    if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 > 0):
        raise ConfigError(f"gate_l2={l2} must be a finite number > 0")


def ngram_design(tokens: np.ndarray, *, vocab_size: int, bigram_buckets: int
                 ) -> scipy.sparse.csr_matrix:
    """Binary features of ``tokens`` int (n, text_length) (0 = PAD): float64 CSR
    (n, vocab_size + bigram_buckets), 1 in column ``id`` for each distinct unigram and in
    column ``vocab_size + bucket`` for each distinct hashed bigram, as :class:`NgramLogit`
    counts them (:func:`models.layers.distinct_ngrams`), so that ``design @ [unigram;
    bigram] + bias`` is the layer's logit."""
    ngrams = distinct_ngrams(np.asarray(tokens, dtype=np.int32), bigram_buckets=bigram_buckets)
    ids = np.concatenate([keras.ops.convert_to_numpy(ngrams.unigrams),
                          keras.ops.convert_to_numpy(ngrams.bigrams) + vocab_size], axis=1)
    counted = np.concatenate([keras.ops.convert_to_numpy(ngrams.unigram_counted),
                              keras.ops.convert_to_numpy(ngrams.bigram_counted)], axis=1) > 0
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    return scipy.sparse.csr_matrix(
        (np.ones(int(counted.sum())), (rows[counted], ids[counted])),
        shape=(len(ids), vocab_size + bigram_buckets))


def _penalised_log_loss(params: np.ndarray, design: scipy.sparse.csr_matrix,
                        labels: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """Summed log loss of ``sigmoid(design @ w + b)`` plus ``l2/2 · |w|²``, and its
    gradient; ``params`` is ``[b, w]``."""
    bias, weights = params[0], params[1:]
    logits = design @ weights + bias
    loss = np.sum(np.logaddexp(0.0, logits) - labels * logits) + 0.5 * l2 * weights @ weights
    residual = scipy.special.expit(logits) - labels
    gradient = np.concatenate([[residual.sum()], design.T @ residual + l2 * weights])
    return float(loss), gradient


def fit_ngram_logit(design: scipy.sparse.csr_matrix, labels: np.ndarray, *, l2: float,
                    vocab_size: int) -> GateFit:
    """The L2 logistic regression of ``labels`` bool (n,) on ``design`` (n, k) from
    :func:`ngram_design`, split into :class:`NgramLogit` weights (the first
    ``vocab_size`` columns are unigrams). Raises ConfigError for an ``l2`` that is not a
    finite number > 0 (:func:`check_gate_l2`; without a penalty the optimum would not be
    unique), labels that do not match the design's rows, or labels of one class only.
    Logs a warning when L-BFGS stops before it converges (``GateFit.converged``)."""
    check_gate_l2(l2)
    labels = np.asarray(labels, dtype=bool)
    if labels.shape != (design.shape[0],):
        raise ConfigError(f"{labels.shape[0] if labels.ndim else 0} labels for a design of "
                          f"{design.shape[0]} rows")
    if labels.all() or not labels.any():
        raise ConfigError(f"the gate needs emergency and other transcripts to learn from "
                          f"({int(labels.sum())} of {labels.size} are emergencies)")
    target = labels.astype(np.float64)
    result = scipy.optimize.minimize(
        _penalised_log_loss, np.zeros(design.shape[1] + 1), args=(design, target, l2),
        jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-6})
    if not np.all(np.isfinite(result.x)):
        raise ConfigError(f"the gate's logistic regression diverged: {result.message}")
    if not result.success:
        LOG.warning("the gate's logistic regression stopped before converging after %d "
                    "iterations: %s", result.nit, result.message)
    params = result.x
    logits = design @ params[1:] + params[0]
    log_loss = float(np.mean(np.logaddexp(0.0, logits) - target * logits))
    return GateFit(unigram=params[1:vocab_size + 1].astype(np.float32),
                   bigram=params[vocab_size + 1:].astype(np.float32),
                   bias=params[:1].astype(np.float32), l2=l2, calls=int(labels.size),
                   emergencies=int(labels.sum()), log_loss=log_loss,
                   converged=bool(result.success), iterations=int(result.nit))


def call_tokens(calls: Sequence[CallFeatures], tokens: np.ndarray,
                call_windows: Sequence[slice]) -> np.ndarray:
    """One token row per call: int32 (len(calls), text_length), the first window's row of
    ``tokens`` (every window of a call carries its transcript)."""
    if len(call_windows) != len(calls):
        raise ConfigError(f"{len(call_windows)} window slices for {len(calls)} calls")
    return np.stack([tokens[rows.start] for rows in call_windows]).astype(np.int32)


def refit_gate(model: keras.Model, *, calls: Sequence[CallFeatures], tokens: np.ndarray,
               l2: float = DEFAULT_GATE_L2) -> GateFit:
    """Refit ``model``'s gate (layer :data:`GATE_LAYER`) on ``calls`` and their per-call
    ``tokens`` int (len(calls), text_length) (:func:`call_tokens`), in place: the
    transcripts the gate reads whole, label ``emergency`` against everything else.
    Returns the fit. Raises ConfigError when the model has no gate or ``tokens`` has not
    one row per call."""
    if len(tokens) != len(calls):
        raise ConfigError(f"{len(tokens)} token rows for {len(calls)} calls")
    try:
        layer = model.get_layer(GATE_LAYER)
    except ValueError as error:
        raise ConfigError(f"model {model.name!r} has no n-gram gate to refit") from error
    if not isinstance(layer, NgramLogit):
        raise ConfigError(f"layer {GATE_LAYER!r} of model {model.name!r} is not an NgramLogit")
    read = keras.ops.convert_to_numpy(reads_whole_transcript(tokens))[:, 0]
    labels = np.array([call.record.label == "emergency" for call in calls])[read]
    design = ngram_design(tokens[read], vocab_size=layer.vocab_size,
                          bigram_buckets=layer.bigram_buckets)
    fit = fit_ngram_logit(design, labels, l2=l2, vocab_size=layer.vocab_size)
    layer.unigram.assign(fit.unigram)
    layer.bigram.assign(fit.bigram)
    layer.bias.assign(fit.bias)
    return fit
