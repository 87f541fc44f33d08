"""models.gate: the n-gram gate's exact refit, and ``call-triage refit-gate``."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from models.builders import build_multimodal  # noqa: E402
from models.bundle import MODEL_CARD_FILE, load_bundle  # noqa: E402
from models.evaluate import archive_windows, evaluate_bundle  # noqa: E402
from models.gate import (  # noqa: E402
    GATE_LAYER,
    call_tokens,
    fit_ngram_logit,
    ngram_design,
    refit_gate,
)
from models.layers import NgramLogit  # noqa: E402
from models.train import refit_model_gate  # noqa: E402
from pipelines.cli import main  # noqa: E402
from tests.models.test_train import fake_call  # noqa: E402
from transforms import spec  # noqa: E402
from transforms.errors import ConfigError  # noqa: E402
from transforms.spec import DEFAULT_FEATURES  # noqa: E402

VOCAB_SIZE = 12
BUCKETS = 7


def test_the_design_times_the_weights_is_the_layers_logit() -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB_SIZE, size=(40, 9)).astype("int32")
    tokens[:5, 4:] = 0  # short transcripts
    tokens[5] = [3, 3, 3, 4, 3, 4, 0, 0, 0]  # repeated n-grams count once
    tokens[6] = 0  # no transcript
    layer = NgramLogit(VOCAB_SIZE, bigram_buckets=BUCKETS)
    layer.build((None, 9))
    unigram, bigram = rng.normal(size=VOCAB_SIZE), rng.normal(size=BUCKETS)
    layer.set_weights([unigram.astype("float32"), bigram.astype("float32"),
                       np.array([0.3], "float32")])

    design = ngram_design(tokens, vocab_size=VOCAB_SIZE, bigram_buckets=BUCKETS)

    assert design.shape == (40, VOCAB_SIZE + BUCKETS)
    assert set(np.unique(design.toarray())) <= {0.0, 1.0}
    assert design[5].sum() == 2 + 3  # unigrams 3, 4; bigrams (3, 3), (3, 4), (4, 3)
    assert design[6].sum() == 0
    np.testing.assert_allclose(design @ np.concatenate([unigram, bigram]) + 0.3,
                               keras.ops.convert_to_numpy(layer(tokens))[:, 0], rtol=1e-5,
                               atol=1e-5)


def _marked_transcripts(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random transcripts of ids 3..11; the emergencies (every other one) hold id 2."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(3, VOCAB_SIZE, size=(n, 8)).astype("int32")
    tokens[:, 6:] = 0
    labels = np.arange(n) % 2 == 0
    tokens[labels, rng.integers(0, 6, size=int(labels.sum()))] = 2
    return tokens, labels


def test_the_logistic_regression_finds_the_word_that_marks_an_emergency() -> None:
    tokens, labels = _marked_transcripts(60, seed=1)
    design = ngram_design(tokens, vocab_size=VOCAB_SIZE, bigram_buckets=BUCKETS)

    fit = fit_ngram_logit(design, labels, l2=1.0, vocab_size=VOCAB_SIZE)
    weak = fit_ngram_logit(design, labels, l2=100.0, vocab_size=VOCAB_SIZE)

    assert fit.unigram.shape == (VOCAB_SIZE,) and fit.bigram.shape == (BUCKETS,)
    assert int(np.argmax(fit.unigram)) == 2
    logits = design @ np.concatenate([fit.unigram, fit.bigram]) + fit.bias[0]
    assert np.all((logits > 0) == labels)
    assert (fit.calls, fit.emergencies) == (60, 30)
    assert fit.log_loss < weak.log_loss < np.log(2)  # a heavier penalty fits less
    assert np.abs(weak.unigram).max() < np.abs(fit.unigram).max()
    assert fit.summary()["l2"] == 1.0


def test_the_logistic_regression_refuses_what_it_cannot_fit() -> None:
    tokens, labels = _marked_transcripts(10, seed=2)
    design = ngram_design(tokens, vocab_size=VOCAB_SIZE, bigram_buckets=BUCKETS)
    for l2 in (0.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="must be a finite number > 0"):
            fit_ngram_logit(design, labels, l2=l2, vocab_size=VOCAB_SIZE)
    with pytest.raises(ConfigError, match="9 labels for a design of 10 rows"):
        fit_ngram_logit(design, labels[:9], l2=1.0, vocab_size=VOCAB_SIZE)
    with pytest.raises(ConfigError, match="0 of 10 are emergencies"):
        fit_ngram_logit(design, np.zeros(10, bool), l2=1.0, vocab_size=VOCAB_SIZE)


def test_refit_gate_sets_the_models_gate_from_the_transcripts_it_reads() -> None:
    text_length = DEFAULT_FEATURES.text_length
    model = build_multimodal(config=DEFAULT_FEATURES, vocab_size=VOCAB_SIZE)
    short, labels = _marked_transcripts(40, seed=3)
    tokens = np.zeros((43, text_length), "int32")
    tokens[:40, :8] = short
    tokens[41] = 5  # fills the token input: the gate does not read it
    calls = [fake_call(label="emergency" if label else "normal", category=None, n_windows=1,
                       duration_s=7.0, call_id=f"c{i}") for i, label in enumerate(labels)]
    # unread transcripts of the wrong label, which must not move the fit
    calls += [fake_call(label="normal", category=None, n_windows=1, duration_s=7.0,
                        call_id=f"u{i}") for i in range(3)]
    tokens[42, 0] = 2
    tokens[42, -1] = 2  # an emergency word, but filling the input

    fit = refit_gate(model, calls=calls, tokens=tokens, l2=1.0)

    assert fit.calls == 40  # the empty and the two full transcripts are left out
    expected = fit_ngram_logit(
        ngram_design(short, vocab_size=VOCAB_SIZE, bigram_buckets=model.get_layer(
            GATE_LAYER).bigram_buckets), labels, l2=1.0, vocab_size=VOCAB_SIZE)
    np.testing.assert_allclose(model.get_layer(GATE_LAYER).unigram.numpy(), expected.unigram,
                               atol=1e-5)
    logmel = np.zeros((43, DEFAULT_FEATURES.n_mels, DEFAULT_FEATURES.n_frames, 1), "float32")
    outputs = model.predict({spec.LOGMEL_INPUT: logmel, spec.TOKENS_INPUT: tokens}, verbose=0)
    gate = outputs[spec.GATE_OUTPUT][:40, 0]
    assert np.all((gate > 0.5) == labels)
    np.testing.assert_allclose(outputs[spec.EMERGENCY_OUTPUT][40:],
                               outputs[spec.AUDIO_OUTPUT][40:], rtol=1e-6)


def test_refit_gate_refuses_a_model_without_a_gate() -> None:
    inputs = keras.Input(shape=(4,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.ops.cast(inputs, "float32")))
    calls = [fake_call(label="normal", category=None, n_windows=1, duration_s=7.0)]
    with pytest.raises(ConfigError, match="no n-gram gate"):
        refit_gate(model, calls=calls, tokens=np.ones((1, 4), "int32"))


def test_call_tokens_takes_one_row_per_call() -> None:
    calls = [fake_call(label="normal", category=None, n_windows=n, duration_s=7.0 * n,
                       call_id=f"c{n}") for n in (2, 1, 3)]
    tokens = np.repeat(np.array([[1, 0], [2, 0], [3, 0]], "int32"), [2, 1, 3], axis=0)
    slices = [slice(0, 2), slice(2, 3), slice(3, 6)]
    np.testing.assert_array_equal(call_tokens(calls, tokens, slices), [[1, 0], [2, 0], [3, 0]])
    with pytest.raises(ConfigError, match="2 window slices for 3 calls"):
        call_tokens(calls, tokens, slices[:2])


def test_train_refits_the_gate_and_records_it(tiny_bundle, tiny_archive,
                                              feature_cache) -> None:
    bundle = load_bundle(tiny_bundle)
    layer = bundle.model.get_layer(GATE_LAYER)
    saved = [weight.copy() for weight in layer.get_weights()]
    windows, _ = archive_windows(bundle, archive=tiny_archive, splits=("train",),
                                 cache_dir=feature_cache)
    refit_model_gate(bundle.model, windows["train"], l2=1.0)
    # the saved gate is the exact refit, not the network's SGD gate
    for saved_weight, refitted in zip(saved, layer.get_weights()):
        np.testing.assert_allclose(saved_weight, refitted, atol=1e-6)
    gate = bundle.metadata["gate_fit"]
    assert gate["l2"] == 1.0 and gate["calls"] == 12 and gate["emergencies"] == 6
    assert "refitted_from" not in gate
    with open(os.path.join(tiny_bundle, MODEL_CARD_FILE), encoding="utf-8") as card:
        assert "the n-gram gate was refitted after the fit" in card.read()


def test_refit_gate_command_writes_a_new_version_with_only_the_gate_changed(
        tiny_bundle, tiny_archive, feature_cache, tmp_path, capsys) -> None:
    out = str(tmp_path / "refitted")
    status = main(["refit-gate", "--bundle", tiny_bundle, "--archive", tiny_archive,
                   "--out", out, "--gate-l2", "5", "--cache-dir", feature_cache,
                   "--workers", "2"])

    assert status == 0
    before, after = load_bundle(tiny_bundle), load_bundle(out)
    assert after.model_version != before.model_version
    gate = after.metadata["gate_fit"]
    assert gate["l2"] == 5.0 and gate["refitted_from"] == before.model_version
    assert gate["archive"] == tiny_archive
    assert after.metadata["training"] == before.metadata["training"]
    assert after.metadata["precision_checks"]["bfloat16"]["model_version"] == \
        after.model_version
    for layer in before.model.layers:
        same = all(np.array_equal(a, b) for a, b in zip(
            layer.get_weights(), after.model.get_layer(layer.name).get_weights()))
        assert same == (layer.name != GATE_LAYER), layer.name
    assert after.metadata["precision_checks"]["bfloat16"]["thresholds"] == after.thresholds
    remeasured = evaluate_bundle(after, archive=tiny_archive, split="test",
                                 cache_dir=feature_cache)
    assert after.metrics["test"]["threshold"] == after.thresholds["emergency"]
    assert after.metrics["test"]["accuracy"] == remeasured["accuracy"]
    assert after.metrics["test"]["roc_auc"] == remeasured["roc_auc"]
    assert after.metrics["training"] == before.metrics["training"]
    assert f"gate refitted from {before.model_version}" in capsys.readouterr().out


def test_refit_gate_command_refuses_a_bundle_without_transcripts(
        tiny_archive, feature_cache, tmp_path, capsys) -> None:
    audio_only = str(tmp_path / "cnn")
    assert main(["train", "--archive", tiny_archive, "--model", "cnn_mel", "--out", audio_only,
                 "--epochs", "1", "--batch-size", "4", "--cache-dir", feature_cache,
                 "--workers", "2"]) == 0
    status = main(["refit-gate", "--bundle", audio_only, "--archive", tiny_archive,
                   "--out", str(tmp_path / "out"), "--cache-dir", feature_cache])
    assert status != 0
    assert "no n-gram gate to refit" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_refit_gate_command_replaces_a_local_bundle_in_place_and_not_a_remote_one(
        tiny_bundle, tiny_archive, feature_cache, tmp_path, capsys) -> None:
    copy = str(tmp_path / "bundle")
    shutil.copytree(tiny_bundle, copy)
    before = load_bundle(copy)

    assert main(["refit-gate", "--bundle", copy, "--archive", tiny_archive, "--out", copy,
                 "--gate-l2", "2", "--cache-dir", feature_cache, "--workers", "2"]) == 0
    after = load_bundle(copy)
    assert after.metadata["gate_fit"]["refitted_from"] == before.model_version
    assert sorted(os.listdir(tmp_path)) == ["bundle"]  # no staging folder left behind
    with open(os.path.join(copy, MODEL_CARD_FILE), encoding="utf-8") as card:
        assert "by `call-triage refit-gate`" in card.read()

    remote = "gs://bucket/bundle"
    assert main(["refit-gate", "--bundle", remote, "--archive", tiny_archive,
                 "--out", remote + "/"]) == 2
    assert "write the refitted one to a new prefix" in capsys.readouterr().err
    assert main(["refit-gate", "--bundle", copy, "--archive", tiny_archive, "--out",
                 str(tmp_path / "x"), "--gate-l2", "0"]) == 2
    assert "gate_l2=0.0 must be a finite number > 0" in capsys.readouterr().err
