"""The two Keras layers of call-triage's own: the transcript's n-gram gate and the verdict.

The multimodal verdict is "the sound carries an emergency *and* the words report one":
``emergency = audio × gate``, where ``gate`` is a linear model over the n-grams the
transcript holds (:class:`NgramLogit` → sigmoid). The gate speaks only when it has read
the whole transcript (:func:`reads_whole_transcript`): for a call without one, or one
longer than the token input (a long call, whose words are mostly not the event's), it is
1 and the audio decides alone (:class:`GatedVerdict`).

Both layers are registered with Keras under the package ``call_triage``, and
:func:`models.bundle.load_bundle` names them (:data:`CUSTOM_LAYERS`), so a saved
``.keras`` file loads with ``safe_mode=True``: neither holds Python code in its config
(safe mode refuses lambdas, not registered classes).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
from keras import ops

from transforms.errors import ConfigError

#: The name of the multimodal model's gate layer (:class:`NgramLogit`).
GATE_LAYER = "text_ngrams"
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
    """A linear model over the unigrams and (hashed) bigrams a transcript holds.

    Input int ``(batch, text_length)`` token ids, 0 = PAD; output float ``(batch, 1)``, the
    logit ``bias + Σ unigram[id] + Σ bigram[hash(first, second)]`` over the *distinct*
    n-grams of the non-PAD positions (a bigram needs both of its tokens): an n-gram counts
    once however often it is said, so a repeated plea does not outweigh what the rest of
    the call says. ``bigram_buckets`` weights hold the bigrams, hashed as
    ``(first · 1,000,003 + second) mod bigram_buckets``; ``l2`` is the L2 penalty on the
    unigram and bigram weights (the bias is free). All weights start at 0, so an untrained
    layer says 0.5 for every transcript.

    With ~100 call scripts to learn from, this generalises to unseen scripts better than
    the LSTM (models/README.md, "The verdict"): what marks an everyday call or a prank —
    a question ending, a plan, "ㅋㅋ", "농담이에요" — is a few n-grams wherever they fall.
    """

    def __init__(self, vocab_size: int, bigram_buckets: int = DEFAULT_BIGRAM_BUCKETS,
                 l2: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if vocab_size < 2:
            raise ConfigError(f"vocab_size={vocab_size} must be >= 2 (PAD and OOV)")
        if bigram_buckets < 1:
            raise ConfigError(f"bigram_buckets={bigram_buckets} must be >= 1")
        if not l2 >= 0.0:
            raise ConfigError(f"l2={l2} must be >= 0")
        self.vocab_size, self.bigram_buckets, self.l2 = vocab_size, bigram_buckets, l2

    def build(self, input_shape) -> None:
        penalty = keras.regularizers.L2(self.l2) if self.l2 else None
        self.unigram = self.add_weight(shape=(self.vocab_size,), initializer="zeros",
                                       regularizer=penalty, name="unigram")
        self.bigram = self.add_weight(shape=(self.bigram_buckets,), initializer="zeros",
                                      regularizer=penalty, name="bigram")
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

    def call(self, tokens):
        ngrams = distinct_ngrams(tokens, bigram_buckets=self.bigram_buckets,
                                 dtype=self.compute_dtype)
        unigrams = ops.sum(ops.take(self.unigram, ngrams.unigrams) * ngrams.unigram_counted,
                           axis=1)
        bigrams = ops.sum(ops.take(self.bigram, ngrams.bigrams) * ngrams.bigram_counted, axis=1)
        return ops.expand_dims(unigrams + bigrams, -1) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "bigram_buckets": self.bigram_buckets, "l2": self.l2}


@keras.saving.register_keras_serializable(package="call_triage")
class GatedVerdict(keras.layers.Layer):
    """``[audio (batch, 1), gate (batch, 1), tokens (batch, text_length)]`` →
    ``audio × gate`` ``(batch, 1)`` where the gate has read the whole transcript
    (:func:`reads_whole_transcript`), ``audio`` elsewhere: without a transcript, or with
    one cut off at ``text_length``, the gate cannot tell, so the audio decides alone.
    The verdict's loss trains both factors (models/README.md, "The verdict", compares a
    gate that learns only from its own output's loss); after the fit, ``call-triage
    train`` refits the gate alone (:mod:`models.gate`)."""

    def call(self, inputs):
        audio, gate, tokens = inputs
        gate = ops.cast(gate, audio.dtype)
        return audio * ops.where(reads_whole_transcript(tokens), gate, ops.ones_like(gate))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


#: The custom layers a saved multimodal model names, for ``keras.saving.load_model``.
CUSTOM_LAYERS = {"NgramLogit": NgramLogit, "GatedVerdict": GatedVerdict}
