"""models.words: the words models' exact refit, the verdict's calibration, and
``call-triage refit-gate``."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse  # noqa: E402

from models.builders import build_multimodal  # noqa: E402
from models.bundle import MODEL_CARD_FILE, load_bundle  # noqa: E402
from models.evaluate import archive_windows, evaluate_bundle  # noqa: E402
from models.layers import (  # noqa: E402
    GATE_LAYER,
    WORDS_CATEGORY_LAYER,
    WORDS_PRANK_LAYER,
    NgramLogit,
)
from models.train import refit_model_words  # noqa: E402
from models.words import (  # noqa: E402
    calibrate_verdict,
    call_rows,
    fit_words_model,
    refit_words,
    words_design,
)
from pipelines.cli import main  # noqa: E402
from tests.models.test_train import fake_call  # noqa: E402
from transforms import spec  # noqa: E402
from transforms.errors import ConfigError  # noqa: E402
from transforms.lexicon import N_GROUPS  # noqa: E402
from transforms.spec import DEFAULT_FEATURES  # noqa: E402

VOCAB_SIZE = 12
BUCKETS = 7


def test_the_design_times_the_weights_is_the_layers_logit() -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB_SIZE, size=(40, 9)).astype("int32")
    tokens[:5, 4:] = 0  # short transcripts
    tokens[5] = [3, 3, 3, 4, 3, 4, 0, 0, 0]  # repeated n-grams count once
    tokens[6] = 0  # no transcript
    lexicon = rng.uniform(size=(40, 3)).astype("float32")
    lexicon[6] = 0.0
    layer = NgramLogit(VOCAB_SIZE, bigram_buckets=BUCKETS, units=2, lexicon_size=3)
    layer([tokens, lexicon])
    weights = rng.normal(size=(VOCAB_SIZE + BUCKETS + 3, 2))
    layer.set_weights([weights[:VOCAB_SIZE].astype("float32"),
                       weights[VOCAB_SIZE:VOCAB_SIZE + BUCKETS].astype("float32"),
                       weights[VOCAB_SIZE + BUCKETS:].astype("float32"),
                       np.array([0.3, -0.2], "float32")])

    design = words_design(tokens, lexicon, vocab_size=VOCAB_SIZE, bigram_buckets=BUCKETS)

    assert design.shape == (40, VOCAB_SIZE + BUCKETS + 3)
    assert set(np.unique(design[:, :VOCAB_SIZE + BUCKETS].toarray())) <= {0.0, 1.0}
    assert design[5, :VOCAB_SIZE + BUCKETS].sum() == 2 + 3  # unigrams 3, 4; 3 bigrams
    assert design[6].sum() == 0
    np.testing.assert_allclose(design @ weights + [0.3, -0.2],
                               keras.ops.convert_to_numpy(layer([tokens, lexicon])),
                               rtol=1e-5, atol=1e-5)


def _marked_transcripts(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random transcripts of ids 3..11; the emergencies (every other one) hold id 2."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(3, VOCAB_SIZE, size=(n, 8)).astype("int32")
    tokens[:, 6:] = 0
    labels = np.arange(n) % 2 == 0
    tokens[labels, rng.integers(0, 6, size=int(labels.sum()))] = 2
    return tokens, labels


def _design(tokens: np.ndarray) -> scipy.sparse.csr_matrix:
    return words_design(tokens, np.zeros((len(tokens), 1)), vocab_size=VOCAB_SIZE,
                        bigram_buckets=BUCKETS)


BINARY = {"n_classes": 2, "class_names": ("other", "emergency")}


def test_the_logistic_regression_finds_the_word_that_marks_an_emergency() -> None:
    tokens, labels = _marked_transcripts(60, seed=1)
    design = _design(tokens)

    fit = fit_words_model(design, labels, l2=1.0, **BINARY)
    weak = fit_words_model(design, labels, l2=100.0, **BINARY)

    assert fit.weights.shape == (VOCAB_SIZE + BUCKETS + 1, 1) and fit.bias.shape == (1,)
    assert int(np.argmax(fit.weights[:VOCAB_SIZE, 0])) == 2
    logits = design @ fit.weights[:, 0] + fit.bias[0]
    assert np.all((logits > 0) == labels)
    assert fit.calls == 60 and fit.class_counts == {"other": 30, "emergency": 30}
    assert fit.log_loss < weak.log_loss < np.log(2)  # a heavier penalty fits less
    assert np.abs(weak.weights).max() < np.abs(fit.weights).max()
    assert fit.summary()["l2"] == 1.0


def test_the_multinomial_fit_gives_absent_classes_no_chance() -> None:
    tokens, marked = _marked_transcripts(60, seed=4)
    classes = np.where(marked, 0, 2)  # class 1 never occurs
    fit = fit_words_model(_design(tokens), classes, l2=1.0, n_classes=3,
                          class_names=("a", "b", "c"))
    logits = _design(tokens) @ fit.weights + fit.bias
    assert fit.weights.shape == (VOCAB_SIZE + BUCKETS + 1, 3)
    assert np.all(np.argmax(logits, axis=1) == classes)
    assert np.all(fit.weights[:, 1] == 0) and fit.bias[1] < -10
    assert fit.class_counts == {"a": 30, "b": 0, "c": 30}


def test_the_logistic_regression_refuses_what_it_cannot_fit() -> None:
    tokens, labels = _marked_transcripts(10, seed=2)
    design = _design(tokens)
    for l2 in (0.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="must be a finite number > 0"):
            fit_words_model(design, labels, l2=l2, **BINARY)
    with pytest.raises(ConfigError, match="9 labels for a design of 10 rows"):
        fit_words_model(design, labels[:9], l2=1.0, **BINARY)
    with pytest.raises(ConfigError, match="two classes or more"):
        fit_words_model(design, np.zeros(10, bool), l2=1.0, **BINARY)


def _window_inputs(tokens: np.ndarray, lexicon: np.ndarray) -> dict[str, np.ndarray]:
    logmel = np.zeros((len(tokens), DEFAULT_FEATURES.n_mels, DEFAULT_FEATURES.n_frames, 1),
                      "float32")
    return {spec.LOGMEL_INPUT: logmel, spec.TOKENS_INPUT: tokens, spec.LEXICON_INPUT: lexicon}


def test_refit_words_sets_the_three_words_models_from_the_transcripts_they_read() -> None:
    text_length = DEFAULT_FEATURES.text_length
    model = build_multimodal(config=DEFAULT_FEATURES, vocab_size=VOCAB_SIZE)
    short, marked = _marked_transcripts(40, seed=3)
    tokens = np.zeros((43, text_length), "int32")
    tokens[:40, :8] = short
    tokens[41] = 5  # fills the token input: the words models do not read it
    lexicon = np.zeros((43, N_GROUPS), "float32")
    labels = np.where(marked, "emergency", np.where(np.arange(40) % 4 == 1, "prank", "normal"))
    lexicon[:40][labels == "prank", 0] = 1.0  # a lexicon group that marks the pranks
    calls = [fake_call(label=label, category="fire" if label != "normal" else "normal_indoor",
                       n_windows=1, duration_s=7.0, call_id=f"c{i}")
             for i, label in enumerate(labels)]
    # unread transcripts of the wrong label, which must not move the fit
    calls += [fake_call(label="normal", category=None, n_windows=1, duration_s=7.0,
                        call_id=f"u{i}") for i in range(3)]
    tokens[42, 0] = 2
    tokens[42, -1] = 2  # an emergency word, but filling the input

    fits = refit_words(model, calls=calls, tokens=tokens, lexicon=lexicon, l2=1.0)

    assert {name: fit.calls for name, fit in fits.items()} == {
        GATE_LAYER: 40, WORDS_PRANK_LAYER: 40, WORDS_CATEGORY_LAYER: 40}
    expected = fit_words_model(
        words_design(short, lexicon[:40], vocab_size=VOCAB_SIZE,
                     bigram_buckets=model.get_layer(GATE_LAYER).bigram_buckets),
        marked, l2=1.0, **BINARY)
    np.testing.assert_allclose(model.get_layer(GATE_LAYER).unigram.numpy(),
                               expected.weights[:VOCAB_SIZE], atol=1e-4)
    outputs = model.predict(_window_inputs(tokens, lexicon), verbose=0)
    assert np.all((outputs[spec.GATE_OUTPUT][:40, 0] > 0.5) == marked)
    assert np.all((outputs[spec.PRANK_OUTPUT][:40, 0] > 0.5) == (labels == "prank"))
    fire, normal = spec.CATEGORIES.index("fire"), spec.CATEGORIES.index("normal_indoor")
    assert np.all(np.argmax(outputs[spec.CATEGORY_OUTPUT][:40], axis=1)
                  == np.where(labels == "normal", normal, fire))


def test_refit_words_refuses_a_model_without_words_models() -> None:
    inputs = keras.Input(shape=(4,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.ops.cast(inputs, "float32")))
    calls = [fake_call(label="normal", category=None, n_windows=1, duration_s=7.0)]
    with pytest.raises(ConfigError, match="no words model"):
        refit_words(model, calls=calls, tokens=np.ones((1, 4), "int32"),
                    lexicon=np.zeros((1, N_GROUPS), "float32"))


def test_the_calibration_fits_the_verdict_on_held_out_windows() -> None:
    model = build_multimodal(config=DEFAULT_FEATURES, vocab_size=VOCAB_SIZE)
    tokens = np.zeros((60, DEFAULT_FEATURES.text_length), "int32")
    tokens[:40, 0] = 3  # 40 windows with words, 20 without
    emergency = np.arange(60) % 2 == 0
    lexicon = np.zeros((60, N_GROUPS), "float32")
    gate = model.get_layer(GATE_LAYER)
    gate_weights = gate.get_weights()
    gate_weights[2][0, 0] = 4.0  # the first lexicon group reads as an emergency
    gate.set_weights(gate_weights)
    lexicon[:40, 0] = np.where(emergency[:40], 1.0, -1.0)
    inputs = _window_inputs(tokens, lexicon)

    coefficients = calibrate_verdict(model, inputs=inputs, targets=emergency.astype("float32"),
                                     weights=np.ones(60, "float32"))

    assert coefficients["gate"] > 0.5  # the gate separates the windows with words
    verdict = model.predict(inputs, verbose=0)[spec.EMERGENCY_OUTPUT][:, 0]
    assert np.all((verdict[:40] > 0.5) == emergency[:40])
    # without words, the audio (constant here) cannot tell: the base rate
    np.testing.assert_allclose(verdict[40:], 0.5, atol=0.05)
    with pytest.raises(ConfigError, match="emergency and other windows"):
        calibrate_verdict(model, inputs=inputs, targets=np.zeros(60, "float32"),
                          weights=np.ones(60, "float32"))


def test_call_rows_takes_one_row_per_call() -> None:
    tokens = np.repeat(np.array([[1, 0], [2, 0], [3, 0]], "int32"), [2, 1, 3], axis=0)
    slices = [slice(0, 2), slice(2, 3), slice(3, 6)]
    np.testing.assert_array_equal(call_rows(tokens, slices), [[1, 0], [2, 0], [3, 0]])


def test_train_refits_the_words_models_and_records_them(tiny_bundle, tiny_archive,
                                                        feature_cache) -> None:
    bundle = load_bundle(tiny_bundle)
    names = (GATE_LAYER, WORDS_PRANK_LAYER, WORDS_CATEGORY_LAYER, spec.EMERGENCY_OUTPUT)
    saved = {name: [w.copy() for w in bundle.model.get_layer(name).get_weights()]
             for name in names}
    windows, _ = archive_windows(bundle, archive=tiny_archive,
                                 splits=("train", "validation"), cache_dir=feature_cache)
    refit_model_words(bundle.model, train=windows["train"], validation=windows["validation"],
                      l2=1.0)
    # the saved words models and verdict are the exact refit, not the network's SGD ones
    for name in names:
        for saved_weight, refitted in zip(saved[name], bundle.model.get_layer(name).get_weights()):
            np.testing.assert_allclose(saved_weight, refitted, atol=1e-4)
    gate = bundle.metadata["gate_fit"]
    assert gate["l2"] == 1.0
    assert gate["words_models"][GATE_LAYER]["calls"] == 12
    assert gate["words_models"][GATE_LAYER]["class_counts"]["emergency"] == 6
    assert set(gate["verdict_coefficients"]) == {"gate", "audio", "text", "bias",
                                                 "audio_alone", "bias_alone"}
    assert "refitted_from" not in gate
    with open(os.path.join(tiny_bundle, MODEL_CARD_FILE), encoding="utf-8") as card:
        assert "were refitted after the fit and the verdict calibrated" in card.read()


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
    refitted = (GATE_LAYER, WORDS_PRANK_LAYER, WORDS_CATEGORY_LAYER, spec.EMERGENCY_OUTPUT)
    for layer in before.model.layers:
        same = all(np.array_equal(a, b) for a, b in zip(
            layer.get_weights(), after.model.get_layer(layer.name).get_weights()))
        # the tiny archive trains no prank: its words model is "never" before and after
        assert same == (layer.name not in refitted or layer.name == WORDS_PRANK_LAYER), \
            layer.name
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
