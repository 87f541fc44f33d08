"""The Keras layers of call-triage's own: the linear words models, the choice between words
and sound, and the calibrated verdict.

The multimodal model reads a transcript twice: an LSTM (Keras's own) and linear models over
the n-grams and lexicon groups the transcript holds (:class:`NgramLogit`), one each for
"the words report a real emergency" (the gate), "the words are a prank" and the category.
The words speak only when the whole transcript was read (:func:`reads_whole_transcript`):
for a call without one, or one longer than the token input (a long call, whose words are
mostly not the event's), the sound decides (:class:`TranscriptOr`,
:class:`CalibratedVerdict`).

The layers are registered with Keras under the package ``call_triage``, and
:func:`models.bundle.load_bundle` names them (:data:`CUSTOM_LAYERS`), so a saved
``.keras`` file loads with ``safe_mode=True``: none holds Python code in its config
(safe mode refuses lambdas, not registered classes).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
from keras import ops

from transforms.errors import ConfigError

#: The names of the multimodal model's words models (:class:`NgramLogit`): the gate ("the
#: words report a real emergency"), the words' prank and the words' category.
GATE_LAYER = "text_ngrams"
WORDS_PRANK_LAYER = "words_prank"
WORDS_CATEGORY_LAYER = "words_category"
#: Hash buckets for the bigrams of :class:`NgramLogit` (a weight each).
DEFAULT_BIGRAM_BUCKETS = 16_384
# Odd multiplier that spreads (first id, second id) pairs over the buckets.
_PAIR_MULTIPLIER = 1_000_003


def _first_occurrences(ids, present):
    """``present`` (batch, n) float, zeroed where the same id (batch, n) int appears at an
    earlier present position of the row: each distinct id counts once."""
    earlier = ops.tril(ops.ones((ids.shape[1], ids.shape[1])), k=-1)  # [t, s] = s < t
    same = ops.cast(ops.equal(ids[:, :, None], ids[:, None, :]), present.dtype)
    repeats = ops.sum(same * present[:, None, :] * ops.cast(earlier, present.dtype), axis=2)
    return present * ops.cast(ops.equal(repeats, 0), present.dtype)


class DistinctNgrams(NamedTuple):
    """The n-grams of a batch of transcripts as :class:`NgramLogit` counts them:
    ``unigrams`` int32 (batch, n) token ids and ``bigrams`` int32 (batch, n − 1) hashed
    pairs of neighbouring ids, each with a float ``..._counted`` mask of the same shape,
    1 at the first occurrence of a distinct non-PAD n-gram and 0 elsewhere."""

    unigrams: Any
    unigram_counted: Any
    bigrams: Any
    bigram_counted: Any


def distinct_ngrams(tokens, *, bigram_buckets: int, dtype: str = "float32") -> DistinctNgrams:
    """:class:`DistinctNgrams` of ``tokens`` int (batch, n), 0 = PAD (a Keras tensor or a
    NumPy array). A bigram needs both of its tokens; it is hashed into ``bigram_buckets``
    as ``(first · 1,000,003 + second) mod bigram_buckets``."""
    ids = ops.cast(tokens, "int32")
    present = ops.cast(ops.not_equal(ids, 0), dtype)
    pairs = ops.cast((ops.cast(ids[:, :-1], "int64") * _PAIR_MULTIPLIER
                      + ops.cast(ids[:, 1:], "int64")) % bigram_buckets, "int32")
    both_present = present[:, :-1] * present[:, 1:]
    return DistinctNgrams(unigrams=ids, unigram_counted=_first_occurrences(ids, present),
                          bigrams=pairs, bigram_counted=_first_occurrences(pairs, both_present))


def reads_whole_transcript(tokens):
    """bool ``(batch, 1)``: the transcript has a token and ends before the input does
    (its last position is PAD), so nothing was cut off. ``tokens`` int (batch, length),
    0 = PAD; a Keras tensor or a NumPy array."""
    return ops.logical_and(ops.any(ops.not_equal(tokens, 0), axis=1, keepdims=True),
                           ops.equal(tokens[:, -1:], 0))


@keras.saving.register_keras_serializable(package="call_triage")
class NgramLogit(keras.layers.Layer):
    """A linear model over the words of a transcript: the unigrams and (hashed) bigrams it
    holds and, with ``lexicon_size``, its lexicon groups (:mod:`transforms.lexicon`).

    Input int ``(batch, text_length)`` token ids, 0 = PAD, or with ``lexicon_size`` the
    pair ``[tokens, lexicon]`` with ``lexicon`` float ``(batch, lexicon_size)``; output
    float ``(batch, units)``, the logits ``bias + Σ unigram[id] + Σ bigram[hash(first,
    second)] + lexicon · weights`` over the *distinct* n-grams of the non-PAD positions (a
    bigram needs both of its tokens): an n-gram counts once however often it is said, so a
    repeated plea does not outweigh what the rest of the call says. ``bigram_buckets``
    weights hold the bigrams, hashed as ``(first · 1,000,003 + second) mod
    bigram_buckets``; ``l2`` is the L2 penalty on every weight but the bias while the
    network trains. All weights start at 0, so an untrained layer gives logit 0.

    The n-grams learn what marks a script (a question ending, "ㅋㅋ", "농담이에요"); the
    lexicon carries what transfers to sentences never seen in training (the taxonomy's
    words, and the markers of time past, drills, television and jokes). ``call-triage
    train`` refits every such layer exactly after the fit (:mod:`models.words`).
    """

    def __init__(self, vocab_size: int, bigram_buckets: int = DEFAULT_BIGRAM_BUCKETS,
                 l2: float = 0.0, units: int = 1, lexicon_size: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        if vocab_size < 2:
            raise ConfigError(f"vocab_size={vocab_size} must be >= 2 (PAD and OOV)")
        if bigram_buckets < 1:
            raise ConfigError(f"bigram_buckets={bigram_buckets} must be >= 1")
        if not l2 >= 0.0:
            raise ConfigError(f"l2={l2} must be >= 0")
        if units < 1:
            raise ConfigError(f"units={units} must be >= 1")
        if lexicon_size < 0:
            raise ConfigError(f"lexicon_size={lexicon_size} must be >= 0")
        self.vocab_size, self.bigram_buckets, self.l2 = vocab_size, bigram_buckets, l2
        self.units, self.lexicon_size = units, lexicon_size

    def build(self, input_shape) -> None:
        penalty = keras.regularizers.L2(self.l2) if self.l2 else None
        self.unigram = self.add_weight(shape=(self.vocab_size, self.units),
                                       initializer="zeros", regularizer=penalty,
                                       name="unigram")
        self.bigram = self.add_weight(shape=(self.bigram_buckets, self.units),
                                      initializer="zeros", regularizer=penalty, name="bigram")
        if self.lexicon_size:
            self.lexicon = self.add_weight(shape=(self.lexicon_size, self.units),
                                           initializer="zeros", regularizer=penalty,
                                           name="lexicon")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        tokens, lexicon = (inputs if self.lexicon_size else (inputs, None))
        ngrams = distinct_ngrams(tokens, bigram_buckets=self.bigram_buckets,
                                 dtype=self.compute_dtype)
        logits = (ops.einsum("bnu,bn->bu", ops.take(self.unigram, ngrams.unigrams, axis=0),
                             ngrams.unigram_counted)
                  + ops.einsum("bnu,bn->bu", ops.take(self.bigram, ngrams.bigrams, axis=0),
                               ngrams.bigram_counted)
                  + self.bias)
        if lexicon is not None:
            logits = logits + ops.matmul(ops.cast(lexicon, self.compute_dtype), self.lexicon)
        return logits

    def compute_output_shape(self, input_shape):
        tokens_shape = input_shape[0] if self.lexicon_size else input_shape
        return (tokens_shape[0], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "bigram_buckets": self.bigram_buckets, "l2": self.l2, "units": self.units,
                "lexicon_size": self.lexicon_size}


@keras.saving.register_keras_serializable(package="call_triage")
class TranscriptOr(keras.layers.Layer):
    """``[from_words (batch, k), otherwise (batch, k), tokens (batch, text_length)]`` →
    ``from_words`` where the transcript is read whole (:func:`reads_whole_transcript`),
    ``otherwise`` elsewhere: the words decide when there are words to read, the sound
    (and whatever else ``otherwise`` holds) when there are none."""

    def call(self, inputs):
        from_words, otherwise, tokens = inputs
        return ops.where(reads_whole_transcript(tokens), ops.cast(from_words, otherwise.dtype),
                         otherwise)

    def compute_output_shape(self, input_shape):
        return input_shape[1]


#: The weights of :class:`CalibratedVerdict`, in the order of its ``coefficients``.
VERDICT_COEFFICIENTS = ("gate", "audio", "text", "bias", "audio_alone", "bias_alone")
# Probabilities are clipped this far from 0 and 1 before their logit is taken.
_LOGIT_EPSILON = 1e-6


def logit(probability, dtype: str = "float32"):
    """``log(p / (1 − p))`` of ``probability`` clipped to [1e-6, 1 − 1e-6]."""
    p = ops.clip(ops.cast(probability, dtype), _LOGIT_EPSILON, 1.0 - _LOGIT_EPSILON)
    return ops.log(p) - ops.log1p(-p)


@keras.saving.register_keras_serializable(package="call_triage")
class CalibratedVerdict(keras.layers.Layer):
    """The multimodal verdict: ``[audio, gate, text]`` (each a probability ``(batch, 1)``)
    and ``tokens`` ``(batch, text_length)`` → the probability ``(batch, 1)`` that the window
    is an emergency.

    Where the transcript is read whole (:func:`reads_whole_transcript`):
    ``sigmoid(c_gate · logit(gate) + c_audio · logit(audio) + c_text · logit(text) +
    c_bias)``: the words' gate, the sound and the LSTM's reading of the words each count
    as much as their coefficients say, so confident words can report an emergency a calm
    voice does not sound like, and everyday words can outweigh a tense recording.
    Elsewhere (no transcript, or one cut off): ``sigmoid(c_audio_alone · logit(audio) +
    c_bias_alone)``. The coefficients (:data:`VERDICT_COEFFICIENTS`) start at
    ``(1, 1, 0, 0, 1, 0)``; training moves them with the rest, and ``call-triage train``
    fits them last, by logistic regression on the validation split
    (:func:`models.words.calibrate_verdict`), so the verdict is a calibrated probability.
    """

    def build(self, input_shape) -> None:
        self.coefficients = self.add_weight(
            shape=(len(VERDICT_COEFFICIENTS),), name="coefficients",
            initializer=keras.initializers.Constant([1.0, 1.0, 0.0, 0.0, 1.0, 0.0]))

    def call(self, inputs):
        audio, gate, text, tokens = inputs
        c = ops.cast(self.coefficients, "float32")
        audio_logit, gate_logit, text_logit = (logit(x) for x in (audio, gate, text))
        with_words = c[0] * gate_logit + c[1] * audio_logit + c[2] * text_logit + c[3]
        alone = c[4] * audio_logit + c[5]
        verdict = ops.sigmoid(ops.where(reads_whole_transcript(tokens), with_words, alone))
        return ops.cast(verdict, audio.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


#: The custom layers a saved multimodal model names, for ``keras.saving.load_model``.
CUSTOM_LAYERS = {"NgramLogit": NgramLogit, "TranscriptOr": TranscriptOr,
                 "CalibratedVerdict": CalibratedVerdict}
