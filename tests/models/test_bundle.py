"""The model bundle: save → load round trips, every way a bundle can be broken, scoring."""

from __future__ import annotations

import json
import os
import shutil
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402

from models.builders import build_model  # noqa: E402
from models.bundle import (  # noqa: E402
    BUNDLE_FILES,
    FEATURES_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_CARD_FILE,
    MODEL_FILE,
    VOCABULARY_FILE,
    load_bundle,
    read_bundle_metadata,
    record_precision_check,
    save_bundle,
)
from models.serving import predict_windows, with_precision  # noqa: E402
from models.precision import (  # noqa: E402
    PRECISION_CHECKS_KEY,
    native_bfloat16,
    precision_check_record,
    resolve_precision,
)
from transforms.errors import BundleError, ConfigError  # noqa: E402
from transforms.lexicon import N_GROUPS  # noqa: E402
from transforms.spec import (  # noqa: E402
    AUDIO_OUTPUT,
    CATEGORIES,
    CATEGORY_OUTPUT,
    DEFAULT_FEATURES,
    EMERGENCY_OUTPUT,
    GATE_OUTPUT,
    LEXICON_INPUT,
    LOGMEL_INPUT,
    PRANK_OUTPUT,
    TEXT_OUTPUT,
    TOKENS_INPUT,
    FeatureConfig,
)
from transforms.vocabulary import Vocabulary  # noqa: E402

SMALL = FeatureConfig(window_s=1.0, hop_s=1.0, n_fft=512, hop_length=160, n_mels=32,
                      n_frames=101, n_mfcc=13, text_length=8)
TOKENS = [["불", "나다", "도와주다"], ["불", "연기", "3층"], ["도와주다", "빨리", "ㅋㅋ"]]
THRESHOLDS = {"emergency": 0.5, "prank": 0.7}
METRICS = {"test": {"accuracy": 0.99, "emergency_recall": 0.97}}
CARD = "# multimodal\n\n시험용 모델 (test model).\n"


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.build(TOKENS, min_freq=1)


@pytest.fixture(scope="module")
def model(vocabulary: Vocabulary) -> keras.Model:
    return build_model("multimodal", config=DEFAULT_FEATURES, vocab_size=len(vocabulary),
                       seed=0)


def _save(path: str, *, model: keras.Model, vocabulary: Vocabulary,
          config: FeatureConfig = DEFAULT_FEATURES, **metadata: object) -> None:
    save_bundle(path=path, model=model, vocabulary=vocabulary, config=config,
                metadata={"model_version": "2026.07.20", "training": {"epochs": 1},
                          **metadata},
                thresholds=THRESHOLDS, metrics=METRICS, model_card=CARD)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, model: keras.Model, vocabulary: Vocabulary) -> str:
    path = str(tmp_path_factory.mktemp("bundles") / "multimodal")
    _save(path, model=model, vocabulary=vocabulary)
    return path


@pytest.fixture
def copy(saved: str, tmp_path) -> str:
    """A private copy of the saved bundle, free to break."""
    return shutil.copytree(saved, str(tmp_path / "bundle"))


def _inputs(config: FeatureConfig, *, n: int, seed: int = 0, vocab_size: int = 10
            ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, vocab_size, size=(n, config.text_length)).astype("int32")
    tokens[0] = 0  # one window of a call without a transcript
    lexicon = rng.integers(0, 4, size=(n, N_GROUPS)).astype("float32")
    lexicon[0] = 0.0
    return {LOGMEL_INPUT: rng.uniform(-100, 0, (n,) + config.logmel_shape).astype("float32"),
            TOKENS_INPUT: tokens, LEXICON_INPUT: lexicon}


def _edit_json(path: str, name: str, **changes: object) -> None:
    file = os.path.join(path, name)
    with open(file, encoding="utf-8") as handle:
        values = json.load(handle)
    values.update(changes)
    with open(file, "w", encoding="utf-8") as handle:
        json.dump(values, handle)


def _load_error(path: str, **kwargs: object) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(path, **kwargs)
    return str(info.value)


def test_save_load_round_trip_gives_identical_predictions(saved: str, model: keras.Model,
                                                         vocabulary: Vocabulary) -> None:
    assert sorted(os.listdir(saved)) == sorted(BUNDLE_FILES)
    assert sorted(os.listdir(os.path.dirname(saved))) == ["multimodal"]  # no staging left
    bundle = load_bundle(saved)
    inputs = _inputs(DEFAULT_FEATURES, n=5, vocab_size=len(vocabulary))
    want = {name: keras.ops.convert_to_numpy(value)
            for name, value in model(inputs, training=False).items()}
    got = predict_windows(bundle, inputs, batch_size=2)
    assert set(got) == {EMERGENCY_OUTPUT, CATEGORY_OUTPUT, AUDIO_OUTPUT, TEXT_OUTPUT,
                        PRANK_OUTPUT, GATE_OUTPUT}
    for name, value in got.items():
        assert value.dtype == np.float32
        expected_shape = (5, len(CATEGORIES)) if name == CATEGORY_OUTPUT else (5,)
        assert value.shape == expected_shape
        np.testing.assert_allclose(value, want[name].reshape(expected_shape),
                                   rtol=1e-5, atol=1e-6)
    in_one_batch = predict_windows(bundle, inputs)
    for name, value in in_one_batch.items():
        np.testing.assert_allclose(value, got[name], rtol=1e-5, atol=1e-6)

    assert (bundle.model_name, bundle.model_version) == ("multimodal", "2026.07.20")
    assert bundle.input_names == (LEXICON_INPUT, LOGMEL_INPUT, TOKENS_INPUT)
    assert bundle.thresholds == THRESHOLDS and bundle.metrics == METRICS
    assert bundle.config == DEFAULT_FEATURES
    assert bundle.vocabulary.tokens == vocabulary.tokens
    assert bundle.path == saved
    meta = bundle.metadata
    assert (meta["format"], meta["format_version"]) == ("call-triage-bundle", 1)
    assert meta["weights_origin"] == "random-init"
    assert meta["training"] == {"epochs": 1}
    assert meta["feature_fingerprint"] == DEFAULT_FEATURES.fingerprint()
    assert meta["created_at"].endswith("+00:00")
    with open(os.path.join(saved, MODEL_CARD_FILE), encoding="utf-8") as handle:
        assert handle.read() == CARD


def test_bfloat16_copy_computes_in_bfloat16_with_float32_heads_and_close_outputs(
        saved: str, vocabulary: Vocabulary) -> None:
    bundle = load_bundle(saved)
    inputs = _inputs(DEFAULT_FEATURES, n=4, vocab_size=len(vocabulary))

    bf16 = with_precision(bundle, "bfloat16")

    assert with_precision(bundle, "float32") is bundle
    assert bf16.model is not bundle.model and bf16.vocabulary is bundle.vocabulary
    assert bf16.model.get_layer("audio_conv2").compute_dtype == "bfloat16"
    assert bf16.model.get_layer("audio_conv2").variable_dtype == "float32"
    assert bf16.model.get_layer(EMERGENCY_OUTPUT).compute_dtype == "float32"
    assert bundle.model.get_layer("audio_conv2").compute_dtype == "float32"  # left alone
    want, got = predict_windows(bundle, inputs), predict_windows(bf16, inputs)
    for name, value in got.items():
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, want[name], atol=0.03)
    with pytest.raises(ConfigError, match="precision='float16'"):
        with_precision(bundle, "float16")
    assert with_precision(bf16, "bfloat16") is bf16
    with pytest.raises(ConfigError, match="copies a float32 bundle, not a bfloat16 one"):
        with_precision(bf16, "float32")


def test_native_bfloat16_reads_the_cpu_flags(tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 fma\n")
    assert native_bfloat16(str(cpuinfo)) is True
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f fma\n")
    assert native_bfloat16(str(cpuinfo)) is False
    assert native_bfloat16(str(tmp_path / "missing")) is None


def _check(**decisions: int) -> dict:
    return {"precision": "bfloat16", "split": "validation", "calls": 3,
            "max_score_change": {"emergency": 0.01}, "decisions_changed": decisions}


MANIFEST = {"model_version": "2026.07.20", "thresholds": THRESHOLDS}


def _recorded(**decisions: int) -> dict:
    return precision_check_record(_check(**decisions), model_version="2026.07.20",
                                  thresholds=THRESHOLDS)


@pytest.mark.parametrize("requested, native, record, expected, why", [
    ("float32", True, _recorded(emergency=0, prank=0), "float32", "as requested"),
    ("bfloat16", False, None, "bfloat16", "as requested"),
    ("auto", True, _recorded(emergency=0, prank=0, category=2), "bfloat16",
     "no emergency or prank decision changed on the bundle's validation split (3 calls)"),
    ("auto", False, _recorded(emergency=0, prank=0), "float32", "has no native bfloat16"),
    ("auto", None, _recorded(emergency=0, prank=0), "float32", "cannot tell"),
    ("auto", True, None, "float32", "records no bfloat16 check"),
    ("auto", True, _recorded(emergency=0, prank=1), "float32",
     "bfloat16 changed 1 emergency or prank decision(s)"),
    ("auto", True, _recorded(emergency=2, prank=0), "float32",
     "bfloat16 changed 2 emergency or prank decision(s)"),
    ("auto", True, _recorded(emergency=0, category=0), "float32", "did not cover ['prank']"),
    ("auto", True, _recorded(category=0), "float32", "did not cover ['emergency', 'prank']"),
    ("auto", True, _recorded(emergency=0, prank=0) | {"model_version": "2026.01.01"},
     "float32", "made for another model version or other thresholds"),
    ("auto", True, _recorded(emergency=0, prank=0) | {"thresholds": {"emergency": 0.4}},
     "float32", "made for another model version or other thresholds"),
])
def test_auto_precision_needs_native_bfloat16_and_a_check_of_this_model_that_changed_no_flag(
        requested: str, native, record, expected: str, why: str) -> None:
    metadata = MANIFEST | ({PRECISION_CHECKS_KEY: {"bfloat16": record}} if record else {})
    precision, reason = resolve_precision(requested, metadata=metadata, native=native)
    assert precision == expected
    assert why in reason
    with pytest.raises(ConfigError, match="precision='half' must be one of"):
        resolve_precision("half", metadata=metadata, native=native)


def test_resolve_precision_rejects_malformed_checks() -> None:
    for checks in (None, {"bfloat16": {}}):
        with pytest.raises(BundleError, match=PRECISION_CHECKS_KEY):
            resolve_precision("auto", metadata=MANIFEST | {PRECISION_CHECKS_KEY: checks},
                              native=True)


def test_a_recorded_precision_check_replaces_only_its_entry_of_the_manifest(copy: str) -> None:
    before = read_bundle_metadata(copy)
    with open(os.path.join(copy, MODEL_FILE), "rb") as handle:
        model_bytes = handle.read()

    record_precision_check(copy, _check(emergency=1))
    record_precision_check(copy, {**_check(emergency=0, prank=0), "archive": "/data/a"})

    after = load_bundle(copy)
    assert after.metadata[PRECISION_CHECKS_KEY] == {
        "bfloat16": _recorded(emergency=0, prank=0) | {"archive": "/data/a"}}
    assert read_bundle_metadata(copy) == before | {PRECISION_CHECKS_KEY: after.metadata[
        PRECISION_CHECKS_KEY]}
    with open(os.path.join(copy, MODEL_FILE), "rb") as handle:
        assert handle.read() == model_bytes
    assert sorted(os.listdir(copy)) == sorted(BUNDLE_FILES)
    assert resolve_precision("auto", metadata=after.metadata, native=True)[0] == "bfloat16"
    with pytest.raises(BundleError, match="needs decisions_changed"):
        record_precision_check(copy, {"precision": "bfloat16", "decisions_changed": {}})
    assert load_bundle(copy).metadata[PRECISION_CHECKS_KEY] == after.metadata[
        PRECISION_CHECKS_KEY]  # a refused check leaves the manifest as it was


def test_saving_again_replaces_the_bundle(copy: str, model: keras.Model,
                                          vocabulary: Vocabulary) -> None:
    _save(copy, model=model, vocabulary=vocabulary, model_version="v2",
          weights_origin="imagenet-local:x.h5")
    bundle = load_bundle(copy)
    assert bundle.model_version == "v2"
    assert bundle.metadata["weights_origin"] == "imagenet-local:x.h5"
    assert sorted(os.listdir(os.path.dirname(copy))) == ["bundle"]


def test_save_refuses_to_replace_a_directory_that_is_not_a_bundle(
        tmp_path, model: keras.Model, vocabulary: Vocabulary) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(BundleError, match="refusing to overwrite"):
        _save(str(tmp_path), model=model, vocabulary=vocabulary)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_missing_directory(tmp_path) -> None:
    assert "does not exist" in _load_error(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_each_missing_file_is_named(copy: str, name: str) -> None:
    os.remove(os.path.join(copy, name))
    assert _load_error(copy) == f"bundle {copy!r} is missing {name}"


def test_truncated_model_file(copy: str) -> None:
    file = os.path.join(copy, MODEL_FILE)
    with open(file, "r+b") as handle:
        handle.truncate(os.path.getsize(file) // 2)
    assert _load_error(copy) == (f"{MODEL_FILE} of bundle {copy!r} is not a .keras zip "
                                 f"archive (truncated or corrupt)")


def test_model_file_that_is_a_zip_but_not_a_model(copy: str) -> None:
    with zipfile.ZipFile(os.path.join(copy, MODEL_FILE), "w") as archive:
        archive.writestr("config.json", '{"class_name": "Nothing"}')
    assert f"{MODEL_FILE} of bundle {copy!r} cannot be loaded: " in _load_error(copy)


def test_malformed_manifest_json(copy: str) -> None:
    with open(os.path.join(copy, MANIFEST_FILE), "w", encoding="utf-8") as handle:
        handle.write('{"format": "call-triage-bundle",')
    message = _load_error(copy)
    assert f"{MANIFEST_FILE} of bundle {copy!r} is malformed JSON" in message
    assert "line 1" in message  # the parser's cause


@pytest.mark.parametrize("change, message", [
    ({"format": "tf-saved-model"}, "format='tf-saved-model', expected 'call-triage-bundle'"),
    ({"format_version": 2}, "format_version=2, this code reads version 1"),
    ({"model_version": None}, "model_version=None must be a string"),
    ({"thresholds": {"prank": 0.5}}, "with an 'emergency' entry"),
    ({"thresholds": {"emergency": 1.5}}, "threshold 'emergency'=1.5 must be a number in [0, 1]"),
    ({"input_names": ["logmel"]}, "lists inputs ['logmel'] but the model takes "
                                  "['lexicon', 'logmel', 'tokens']"),
    ({PRECISION_CHECKS_KEY: []}, "precision_checks=[] must be a JSON object"),
    ({PRECISION_CHECKS_KEY: {"float16": {"decisions_changed": {"emergency": 0}}}},
     "has a check for 'float16'; lower precisions are ('bfloat16',)"),
    ({PRECISION_CHECKS_KEY: {"bfloat16": {"decisions_changed": {"emergency": -1}}}},
     "needs decisions_changed as {head: count >= 0}"),
    ({PRECISION_CHECKS_KEY: {"bfloat16": {"calls": 3}}},
     "needs decisions_changed as {head: count >= 0}"),
])
def test_bad_manifest_values(copy: str, change: dict, message: str) -> None:
    _edit_json(copy, MANIFEST_FILE, **change)
    assert message in _load_error(copy)


def test_feature_config_mismatch_names_each_key(copy: str) -> None:
    _edit_json(copy, FEATURES_FILE, n_mfcc=20)
    assert load_bundle(copy).config.n_mfcc == 20  # by default a bundle serves its own
    message = _load_error(copy, expected_config=FeatureConfig())
    assert message.endswith("differs from the code's: n_mfcc: bundle=20, code=40")
    message = _load_error(copy, expected_config=FeatureConfig(text_length=32,
                                                              tokens="content_words"))
    assert ("n_mfcc: bundle=20, code=40; text_length: bundle=96, code=32; "
            "tokens: bundle='morphemes', code='content_words'") in message


def test_feature_config_missing_key(copy: str) -> None:
    with open(os.path.join(copy, FEATURES_FILE), encoding="utf-8") as handle:
        values = json.load(handle)
    del values["floor_db"]
    with open(os.path.join(copy, FEATURES_FILE), "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    assert f"{FEATURES_FILE} of bundle {copy!r} lacks keys ['floor_db']" in _load_error(copy)


def test_vocabulary_size_mismatch(copy: str, vocabulary: Vocabulary) -> None:
    Vocabulary.build([["불"]], min_freq=1).save(os.path.join(copy, VOCABULARY_FILE))
    assert (f"the vocabulary has 3 tokens but the model's Embedding 'token_embedding' has "
            f"input_dim={len(vocabulary)}") in _load_error(copy)


def test_malformed_vocabulary(copy: str) -> None:
    with open(os.path.join(copy, VOCABULARY_FILE), "w", encoding="utf-8") as handle:
        handle.write("[1, 2")
    assert f"{VOCABULARY_FILE} of bundle {copy!r} is not valid JSON" in _load_error(copy)


def test_malformed_metrics(copy: str) -> None:
    with open(os.path.join(copy, METRICS_FILE), "w", encoding="utf-8") as handle:
        handle.write("[]")
    assert f"{METRICS_FILE} of bundle {copy!r} must hold a JSON object, not list" in (
        _load_error(copy))


@pytest.fixture(scope="module")
def small_cnn_bundle(tmp_path_factory, vocabulary: Vocabulary) -> str:
    path = str(tmp_path_factory.mktemp("bundles") / "cnn")
    cnn = build_model("cnn_mel", config=SMALL, vocab_size=len(vocabulary), seed=0)
    _save(path, model=cnn, vocabulary=vocabulary, config=SMALL)
    return path


def test_a_bundle_serves_its_own_config_unless_another_is_expected(small_cnn_bundle: str
                                                                    ) -> None:
    bundle = load_bundle(small_cnn_bundle)
    assert bundle.config == SMALL and bundle.input_names == (LOGMEL_INPUT,)
    assert bundle.model_name == "cnn_mel"
    message = _load_error(small_cnn_bundle, expected_config=DEFAULT_FEATURES)
    for key in ("window_s: bundle=1.0, code=7.0", "n_mels: bundle=32, code=128",
                "n_frames: bundle=101, code=300", "text_length: bundle=8, code=96"):
        assert key in message
    scores = predict_windows(bundle, _inputs(SMALL, n=3))  # tokens given, not needed
    assert scores[EMERGENCY_OUTPUT].shape == (3,) and AUDIO_OUTPUT not in scores


def test_model_that_does_not_fit_its_feature_config(small_cnn_bundle: str, tmp_path) -> None:
    path = shutil.copytree(small_cnn_bundle, str(tmp_path / "bundle"))
    with open(os.path.join(path, FEATURES_FILE), "w", encoding="utf-8") as handle:
        json.dump(DEFAULT_FEATURES.to_dict(), handle)
    assert ("model input 'logmel' has shape (32, 101, 1), the feature config gives "
            "(128, 300, 1)") in _load_error(path, expected_config=None)


def _emergency_only_model(config: FeatureConfig) -> keras.Model:
    logmel = keras.Input(config.logmel_shape, name=LOGMEL_INPUT)
    score = keras.layers.Dense(1, activation="sigmoid", name=EMERGENCY_OUTPUT)(
        keras.layers.GlobalAveragePooling2D()(logmel))
    return keras.Model(inputs={LOGMEL_INPUT: logmel}, outputs={EMERGENCY_OUTPUT: score})


def test_model_without_category_output(small_cnn_bundle: str, tmp_path) -> None:
    path = shutil.copytree(small_cnn_bundle, str(tmp_path / "bundle"))
    _emergency_only_model(SMALL).save(os.path.join(path, MODEL_FILE))
    assert "model outputs ['emergency'] lack ['category']" in _load_error(
        path, expected_config=SMALL)


@pytest.mark.parametrize("overrides, message", [
    ({"thresholds": {"prank": 0.5}}, "with an 'emergency' entry"),
    ({"metadata": {"format": "x"}}, "metadata may not set ['format']"),
    ({"metadata": {"model_version": 3}}, "model_version=3 must be a string"),
    ({"metrics": {"when": object()}}, "metrics cannot be written as JSON"),
    ({"vocabulary": Vocabulary.build([["불"]], min_freq=1)}, "the vocabulary has 3 tokens"),
    ({"config": SMALL}, "model input 'logmel' has shape (128, 300, 1)"),
])
def test_save_refuses_bundles_that_would_not_load(tmp_path, model: keras.Model,
                                                  vocabulary: Vocabulary, overrides: dict,
                                                  message: str) -> None:
    arguments = {"path": str(tmp_path / "b"), "model": model, "vocabulary": vocabulary,
                 "config": DEFAULT_FEATURES, "metadata": {}, "thresholds": THRESHOLDS,
                 "metrics": METRICS, "model_card": CARD} | overrides
    with pytest.raises(BundleError) as info:
        save_bundle(**arguments)
    assert message in str(info.value)
    assert not os.path.exists(tmp_path / "b")


def test_save_refuses_a_model_without_category(tmp_path, vocabulary: Vocabulary) -> None:
    with pytest.raises(BundleError, match=r"lack \['category'\]"):
        save_bundle(path=str(tmp_path / "b"), model=_emergency_only_model(SMALL),
                    vocabulary=vocabulary, config=SMALL, metadata={}, thresholds=THRESHOLDS,
                    metrics={}, model_card="")


def test_predict_windows_rejects_bad_inputs(saved: str) -> None:
    bundle = load_bundle(saved)
    good = _inputs(DEFAULT_FEATURES, n=2)
    bad_cases = [
        ({LOGMEL_INPUT: good[LOGMEL_INPUT]},
         "lack ['lexicon', 'tokens'] that model 'multimodal' needs"),
        (good | {TOKENS_INPUT: good[TOKENS_INPUT][:, :5]},
         "input 'tokens' has shape (2, 5), expected (n_windows, 96)"),
        (good | {TOKENS_INPUT: good[TOKENS_INPUT][:1]},
         "different numbers of windows: {'lexicon': 2, 'logmel': 2, 'tokens': 1}"),
        ({name: value[:0] for name, value in good.items()}, "no windows to score"),
        (good | {LOGMEL_INPUT: np.full_like(good[LOGMEL_INPUT], np.nan)},
         "input 'logmel' holds NaN or Inf"),
    ]
    for inputs, message in bad_cases:
        with pytest.raises(ValueError) as info:
            predict_windows(bundle, inputs)
        assert message in str(info.value)
    with pytest.raises(ConfigError, match="batch_size=0"):
        predict_windows(bundle, good, batch_size=0)


def test_gcs_round_trip_and_missing_files(gcs_emulator, small_cnn_bundle: str,
                                          vocabulary: Vocabulary) -> None:
    gcs_bucket = f"gs://{gcs_emulator.bucket}"
    local = load_bundle(small_cnn_bundle, expected_config=None)
    remote_path = f"{gcs_bucket}/models/cnn/"
    _save(remote_path, model=local.model, vocabulary=vocabulary, config=SMALL)
    remote = load_bundle(remote_path, expected_config=SMALL)
    assert remote.path == f"{gcs_bucket}/models/cnn"
    inputs = _inputs(SMALL, n=3)
    want, got = predict_windows(local, inputs), predict_windows(remote, inputs)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6)
    assert "does not exist or is empty" in _load_error(f"{gcs_bucket}/models/absent")
    record_precision_check(remote_path, _check(emergency=0))
    assert load_bundle(remote_path, expected_config=SMALL).metadata[PRECISION_CHECKS_KEY][
        "bfloat16"]["decisions_changed"] == {"emergency": 0}
    FileSystems.delete([f"{gcs_bucket}/models/cnn/{MODEL_CARD_FILE}"])
    assert _load_error(remote_path, expected_config=SMALL).endswith(
        f"is missing {MODEL_CARD_FILE}")
