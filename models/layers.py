"""The two Keras layers of call-triage's own: the transcript's n-gram gate and the verdict.

The multimodal verdict is "the sound carries an emergency *and* the words report one":
``emergency = audio × gate``, where ``gate`` is a linear model over the transcript's
unigrams and bigrams (:class:`NgramLogit` → sigmoid) and is 1 for a call without a
transcript (:class:`GatedVerdict`), which is then scored on its audio alone.

Both layers are registered with Keras under the package ``call_triage``, and
:func:`models.bundle.load_bundle` names them (:data:`CUSTOM_LAYERS`), so a saved
``.keras`` file loads with ``safe_mode=True``: neither holds Python code in its config
(safe mode refuses lambdas, not registered classes).
"""

from __future__ import annotations

import keras
from keras import ops

from transforms.errors import ConfigError

#: Hash buckets for the bigrams of :class:`NgramLogit` (a weight each).
DEFAULT_BIGRAM_BUCKETS = 16_384
# Odd multiplier that spreads (first id, second id) pairs over the buckets.
_PAIR_MULTIPLIER = 1_000_003


@keras.saving.register_keras_serializable(package="call_triage")
class NgramLogit(keras.layers.Layer):
    """A linear model over a transcript's token ids: unigrams and hashed bigrams.

    Input int ``(batch, text_length)`` token ids, 0 = PAD; output float ``(batch, 1)``, the
    logit ``bias + Σ_t unigram[id_t] + Σ_t bigram[hash(id_t, id_t+1)]`` over the non-PAD
    positions (a bigram needs both of its tokens). A token seen twice counts twice.
    ``bigram_buckets`` weights hold the bigrams, hashed as
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
        ids = ops.cast(tokens, "int32")
        present = ops.cast(ops.not_equal(ids, 0), self.compute_dtype)
        unigrams = ops.sum(ops.take(self.unigram, ids) * present, axis=1)
        pairs = (ops.cast(ids[:, :-1], "int64") * _PAIR_MULTIPLIER
                 + ops.cast(ids[:, 1:], "int64")) % self.bigram_buckets
        both = present[:, :-1] * present[:, 1:]
        bigrams = ops.sum(ops.take(self.bigram, ops.cast(pairs, "int32")) * both, axis=1)
        return ops.expand_dims(unigrams + bigrams, -1) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "bigram_buckets": self.bigram_buckets, "l2": self.l2}


@keras.saving.register_keras_serializable(package="call_triage")
class GatedVerdict(keras.layers.Layer):
    """``[audio (batch, 1), gate (batch, 1), tokens (batch, text_length)]`` →
    ``audio × gate`` ``(batch, 1)`` where the transcript has a token, ``audio`` where it is
    all PAD (no transcript: the gate cannot tell, so the audio decides alone)."""

    def call(self, inputs):
        audio, gate, tokens = inputs
        has_text = ops.any(ops.not_equal(tokens, 0), axis=1, keepdims=True)
        gate = ops.cast(gate, audio.dtype)
        return audio * ops.where(has_text, gate, ops.ones_like(gate))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


#: The custom layers a saved multimodal model names, for ``keras.saving.load_model``.
CUSTOM_LAYERS = {"NgramLogit": NgramLogit, "GatedVerdict": GatedVerdict}
