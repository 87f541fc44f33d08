"""call-triage's own Keras layers: the words models, the choice between words and sound, and
the calibrated verdict."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from models.layers import (  # noqa: E402
    CUSTOM_LAYERS,
    CalibratedVerdict,
    NgramLogit,
    TranscriptOr,
    reads_whole_transcript,
)
from transforms.errors import ConfigError  # noqa: E402

VOCAB_SIZE = 6
BUCKETS = 5


def _bucket(first: int, second: int) -> int:
    return (first * 1_000_003 + second) % BUCKETS


def _ngram_layer(l2: float = 0.0) -> NgramLogit:
    layer = NgramLogit(VOCAB_SIZE, bigram_buckets=BUCKETS, l2=l2)
    layer.build((None, 4))
    layer.set_weights([np.arange(VOCAB_SIZE, dtype="float32")[:, None] * 0.1,  # id/10
                       np.arange(BUCKETS, dtype="float32")[:, None] + 1.0,  # bigram b: b + 1
                       np.array([-0.5], dtype="float32")])
    return layer


def test_ngram_logit_sums_the_distinct_unigrams_and_bigrams_present() -> None:
    tokens = np.array([[2, 3, 0, 0], [2, 3, 2, 3], [0, 0, 0, 0], [4, 0, 5, 0], [2, 2, 2, 0]],
                      dtype="int32")
    got = keras.ops.convert_to_numpy(_ngram_layer()(tokens))[:, 0]
    want = [
        -0.5 + 0.5 + (_bucket(2, 3) + 1),  # PAD adds nothing, nor a bigram with PAD
        -0.5 + 0.5 + (_bucket(2, 3) + 1) + (_bucket(3, 2) + 1),  # each n-gram counts once
        -0.5,  # no transcript: the bias alone
        -0.5 + 0.9,  # tokens apart (PAD between) make no bigram
        -0.5 + 0.2 + (_bucket(2, 2) + 1),
    ]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_ngram_logit_starts_at_zero_and_penalises_only_ngram_weights() -> None:
    layer = NgramLogit(VOCAB_SIZE, bigram_buckets=BUCKETS, l2=0.01)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(np.array([[1, 2, 3, 4]], "int32"))), [[0.0]])
    trained = _ngram_layer(l2=0.01)
    trained(np.array([[1, 2, 3, 4]], "int32"))
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in trained.losses)
    unigram, bigram, _ = trained.get_weights()
    assert penalty == pytest.approx(0.01 * (np.sum(unigram ** 2) + np.sum(bigram ** 2)),
                                    rel=1e-5)


def test_ngram_logit_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError, match="vocab_size"):
        NgramLogit(1)
    with pytest.raises(ConfigError, match="bigram_buckets"):
        NgramLogit(VOCAB_SIZE, bigram_buckets=0)
    with pytest.raises(ConfigError, match="l2"):
        NgramLogit(VOCAB_SIZE, l2=-1.0)
    with pytest.raises(ConfigError, match="units"):
        NgramLogit(VOCAB_SIZE, units=0)
    with pytest.raises(ConfigError, match="lexicon_size"):
        NgramLogit(VOCAB_SIZE, lexicon_size=-1)


def test_the_gate_reads_a_transcript_with_a_token_that_ends_before_the_input() -> None:
    tokens = np.array([[3, 4, 0], [0, 0, 0], [3, 4, 5], [0, 2, 0]], dtype="int32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reads_whole_transcript(tokens))[:, 0],
        [True, False, False, True])


def test_ngram_logit_adds_the_lexicon_and_gives_one_logit_per_unit() -> None:
    layer = NgramLogit(VOCAB_SIZE, bigram_buckets=BUCKETS, units=2, lexicon_size=3)
    tokens = np.array([[2, 3, 0, 0], [0, 0, 0, 0]], dtype="int32")
    lexicon = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]], dtype="float32")
    layer([tokens, lexicon])
    unigram = np.zeros((VOCAB_SIZE, 2), "float32")
    unigram[2] = [1.0, -1.0]
    lexicon_weights = np.array([[0.5, 0.0], [0.0, 2.0], [1.0, 1.0]], "float32")
    layer.set_weights([unigram, np.zeros((BUCKETS, 2), "float32"), lexicon_weights,
                       np.array([0.1, 0.2], "float32")])
    got = keras.ops.convert_to_numpy(layer([tokens, lexicon]))
    np.testing.assert_allclose(got, [[0.1 + 1.0 + 0.5 + 0.5, 0.2 - 1.0 + 0.5],
                                     [0.1, 0.2 + 2.0]], rtol=1e-6)


def test_transcript_or_takes_the_words_only_where_they_were_read_whole() -> None:
    from_words = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]], dtype="float32")
    otherwise = np.array([[0.2, 0.8], [0.3, 0.7], [0.4, 0.6]], dtype="float32")
    tokens = np.array([[3, 0, 0], [0, 0, 0], [3, 4, 5]], dtype="int32")
    got = keras.ops.convert_to_numpy(TranscriptOr()([from_words, otherwise, tokens]))
    np.testing.assert_allclose(got, [[0.9, 0.1], [0.3, 0.7], [0.4, 0.6]])


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_calibrated_verdict_weighs_the_scores_and_falls_back_on_the_audio() -> None:
    layer = CalibratedVerdict()
    audio = np.array([[0.9], [0.9], [0.2]], dtype="float32")
    gate = np.array([[0.2], [0.2], [0.95]], dtype="float32")
    text = np.array([[0.5], [0.5], [0.8]], dtype="float32")
    # words, none (audio alone), words
    tokens = np.array([[3, 0, 0], [0, 0, 0], [0, 2, 0]], dtype="int32")
    layer([audio, gate, text, tokens])
    layer.set_weights([np.array([2.0, 0.5, 1.0, -1.0, 1.5, 0.3], "float32")])
    got = keras.ops.convert_to_numpy(layer([audio, gate, text, tokens]))[:, 0]

    def sigmoid(x: float) -> float:
        return 1.0 / (1.0 + np.exp(-x))

    want = [sigmoid(2.0 * _logit(0.2) + 0.5 * _logit(0.9) + 1.0 * _logit(0.5) - 1.0),
            sigmoid(1.5 * _logit(0.9) + 0.3),
            sigmoid(2.0 * _logit(0.95) + 0.5 * _logit(0.2) + 1.0 * _logit(0.8) - 1.0)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[2] > 0.9 > got[0]  # confident words outweigh a calm recording


def test_a_model_with_every_layer_round_trips_in_safe_mode(tmp_path) -> None:
    tokens = keras.Input((4,), dtype="int32", name="tokens")
    lexicon = keras.Input((3,), name="lexicon")
    audio = keras.Input((1,), name="audio")
    gate = keras.layers.Activation("sigmoid")(
        NgramLogit(VOCAB_SIZE, bigram_buckets=BUCKETS, l2=1e-4, lexicon_size=3,
                   name="ngrams")([tokens, lexicon]))
    verdict = CalibratedVerdict()([audio, gate, gate, tokens])
    chosen = TranscriptOr()([gate, audio, tokens])
    model = keras.Model([audio, tokens, lexicon], [verdict, chosen])
    rng = np.random.default_rng(0)
    model.get_layer("ngrams").set_weights(
        [w + rng.normal(size=w.shape).astype("float32")
         for w in model.get_layer("ngrams").get_weights()])
    path = str(tmp_path / "words.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False,
                                     custom_objects=CUSTOM_LAYERS)
    assert loaded.get_layer("ngrams").get_config()["l2"] == 1e-4
    batch = [np.array([[0.8], [0.3]], "float32"), np.array([[2, 3, 0, 0], [0, 0, 0, 0]], "int32"),
             np.array([[1.0, 0.0, 0.3], [0.0, 0.0, 0.0]], "float32")]
    for got, want in zip(loaded(batch), model(batch)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got),
                                   keras.ops.convert_to_numpy(want), rtol=1e-6)
