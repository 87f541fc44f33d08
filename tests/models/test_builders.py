"""The model builders: named inputs and outputs, shapes from a FeatureConfig, real batches."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from models.builders import (  # noqa: E402
    AUDIO_POOLINGS,
    DEFAULT_AUDIO_POOLING,
    DEFAULT_MODEL,
    MODEL_BUILDERS,
    VGG_IMAGE_SIZE,
    audio_pooling_of,
    build_model,
    build_multimodal,
    build_vgg16_transfer,
    default_loss_weights,
    default_losses,
    model_input_names,
    model_output_names,
    weights_origin,
)
from transforms.errors import ConfigError  # noqa: E402
from transforms.lexicon import N_GROUPS  # noqa: E402
from transforms.spec import (  # noqa: E402
    AUDIO_OUTPUT,
    CATEGORIES,
    CATEGORY_OUTPUT,
    EMERGENCY_OUTPUT,
    GATE_OUTPUT,
    LEXICON_INPUT,
    LOGMEL_INPUT,
    MFCC_INPUT,
    PRANK_OUTPUT,
    TEXT_OUTPUT,
    TOKENS_INPUT,
    FeatureConfig,
)

#: 1-s windows at 16 kHz, hop 160 → 101 frames; 32 mel bands: small and fast.
SMALL = FeatureConfig(window_s=1.0, hop_s=1.0, n_fft=512, hop_length=160, n_mels=32,
                      n_frames=101, n_mfcc=13, text_length=8)
VOCAB_SIZE = 50
BATCH = 3


def _inputs(config: FeatureConfig, *, batch: int = BATCH, seed: int = 0,
            tokens: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A batch of every feature input: log-mel dB in [-100, 0], MFCC, token ids."""
    rng = np.random.default_rng(seed)
    if tokens is None:
        tokens = rng.integers(1, VOCAB_SIZE, size=(batch, config.text_length))
    return {
        LOGMEL_INPUT: rng.uniform(-100.0, 0.0, (batch,) + config.logmel_shape).astype("float32"),
        MFCC_INPUT: rng.normal(0.0, 20.0, (batch,) + config.mfcc_shape).astype("float32"),
        TOKENS_INPUT: np.asarray(tokens, dtype="int32"),
        LEXICON_INPUT: rng.uniform(0.0, 3.0, (batch, N_GROUPS)).astype("float32"),
    }


def _predict(model: keras.Model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [tensor.name for tensor in model.inputs]
    outputs = model({name: inputs[name] for name in names}, training=False)
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


@pytest.fixture(scope="module")
def models() -> dict[str, keras.Model]:
    return {name: build_model(name, config=SMALL, vocab_size=VOCAB_SIZE, seed=1)
            for name in MODEL_BUILDERS}


EXPECTED_INPUTS = {
    "cnn_mel": {LOGMEL_INPUT: ((32, 101, 1), "float32")},
    "lstm_mfcc": {MFCC_INPUT: ((101, 13), "float32")},
    "vgg16_transfer": {LOGMEL_INPUT: ((32, 101, 1), "float32")},
    "multimodal": {LOGMEL_INPUT: ((32, 101, 1), "float32"), TOKENS_INPUT: ((8,), "int32"),
                   LEXICON_INPUT: ((N_GROUPS,), "float32")},
}


def test_registry_lists_the_five_architectures_default_multimodal() -> None:
    assert sorted(MODEL_BUILDERS) == sorted(EXPECTED_INPUTS)
    assert DEFAULT_MODEL == "multimodal"


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_inputs_named_and_shaped_from_the_config(models: dict, name: str) -> None:
    model = models[name]
    got = {tensor.name: (tuple(tensor.shape[1:]), tensor.dtype) for tensor in model.inputs}
    assert got == EXPECTED_INPUTS[name]
    assert set(model_input_names(name)) == set(got)
    assert model.name == name


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_outputs_on_a_real_batch(models: dict, name: str) -> None:
    outputs = _predict(models[name], _inputs(SMALL))
    assert set(outputs) == set(model_output_names(name))
    assert outputs[EMERGENCY_OUTPUT].shape == (BATCH, 1)
    assert outputs[CATEGORY_OUTPUT].shape == (BATCH, len(CATEGORIES))
    np.testing.assert_allclose(outputs[CATEGORY_OUTPUT].sum(axis=1), 1.0, rtol=1e-5)
    for value in outputs.values():
        assert np.all(np.isfinite(value)) and np.all((value >= 0) & (value <= 1))
    if name == "multimodal":
        for head in (AUDIO_OUTPUT, TEXT_OUTPUT, PRANK_OUTPUT):
            assert outputs[head].shape == (BATCH, 1)
    else:
        assert not {AUDIO_OUTPUT, TEXT_OUTPUT, PRANK_OUTPUT} & set(outputs)


def test_the_audio_branch_follows_the_seed(models: dict) -> None:
    cnn = models["cnn_mel"]
    convs = [layer for layer in cnn.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.padding) for c in convs] == [
        (24, (5, 5), "valid"), (48, (5, 5), "same"), (48, (5, 5), "same")]
    # (32 - 4) // 4 // 4 = 1 band, (101 - 4) // 2 // 2 = 24 frames, 48 channels
    assert cnn.get_layer("audio_flatten").output.shape[1:] == (1 * 24 * 48,)
    # the default 128×300 window flattens to the seed's 24,864
    default_cnn = build_model("cnn_mel", config=FeatureConfig(), vocab_size=2, seed=0)
    assert default_cnn.get_layer("audio_flatten").output.shape[1:] == (24_864,)
    # the multimodal model reuses the same branch (same layer names and shapes)
    multimodal = models["multimodal"]
    for layer in convs:
        assert multimodal.get_layer(layer.name).kernel.shape == layer.kernel.shape
    assert multimodal.get_layer("fusion").output.shape[1:] == (64 + 128,)


def test_time_pooling_takes_the_max_and_mean_over_time_of_the_last_maps() -> None:
    model = build_model("multimodal", config=SMALL, vocab_size=VOCAB_SIZE, seed=1,
                        audio_pooling="time")
    maps = keras.Model(model.inputs, model.get_layer("audio_relu3").output)
    pooled = keras.Model(model.inputs, model.get_layer("audio_pooled").output)
    inputs = _inputs(SMALL, batch=2)
    got_maps = keras.ops.convert_to_numpy(maps(inputs))  # (2, 1 band, 24 steps, 48 maps)
    got = keras.ops.convert_to_numpy(pooled(inputs))
    assert got.shape == (2, 2 * 1 * 48)
    np.testing.assert_allclose(got[:, :48], got_maps.max(axis=2)[:, 0], rtol=1e-6)
    np.testing.assert_allclose(got[:, 48:], got_maps.mean(axis=2)[:, 0], rtol=1e-5, atol=1e-6)
    # the same convolutions as the seed's branch, without its 24,864 x 64 Dense layer
    default = {pooling: build_model("multimodal", config=FeatureConfig(), vocab_size=819,
                                    seed=1, audio_pooling=pooling).count_params()
               for pooling in AUDIO_POOLINGS}
    assert default["flatten"] - default["time"] == (24_864 - 2 * 7 * 48) * 64


def test_audio_pooling_defaults_per_model_and_is_refused_without_an_audio_branch() -> None:
    assert audio_pooling_of("cnn_mel") == DEFAULT_AUDIO_POOLING["cnn_mel"]
    assert audio_pooling_of("multimodal", "time") == "time"
    assert audio_pooling_of("lstm_mfcc") is None
    with pytest.raises(ConfigError, match="only for models"):
        build_model("lstm_mfcc", config=SMALL, vocab_size=2, seed=0, audio_pooling="time")
    with pytest.raises(ConfigError, match="audio pooling 'avg' must be one of"):
        build_model("cnn_mel", config=SMALL, vocab_size=2, seed=0, audio_pooling="avg")
    cnn = build_model("cnn_mel", config=SMALL, vocab_size=2, seed=0, audio_pooling="time")
    assert cnn.get_layer("audio_pooled").output.shape[1:] == (2 * 48,)


def test_logmel_rescaling_maps_floor_and_0db_to_minus_one_and_one(models: dict) -> None:
    scale = models["cnn_mel"].get_layer("logmel_scale")
    x = np.array([SMALL.floor_db, -50.0, 0.0], dtype="float32").reshape(1, 3, 1, 1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scale(x)).ravel(), [-1.0, 0.0, 1.0])


def test_all_pad_transcript_is_scored_on_audio_alone(models: dict) -> None:
    model = models["multimodal"]
    pad = np.zeros((2, SMALL.text_length), dtype="int32")
    first = _predict(model, _inputs(SMALL, batch=2, seed=1, tokens=pad))
    second = _predict(model, _inputs(SMALL, batch=2, seed=2, tokens=pad))
    for outputs in (first, second):
        assert all(np.all(np.isfinite(value)) for value in outputs.values())
    # a fully masked LSTM returns its zero state: the text features do not exist
    text_features = keras.Model(model.inputs, model.get_layer("text_lstm").output)
    features = keras.ops.convert_to_numpy(
        text_features(_inputs(SMALL, batch=2, seed=1, tokens=pad), training=False))
    np.testing.assert_array_equal(features, 0.0)
    np.testing.assert_array_equal(first[TEXT_OUTPUT], second[TEXT_OUTPUT])
    # ... the verdict is the audio head's (its starting coefficients: the identity), which
    # the audio still moves
    for outputs in (first, second):
        np.testing.assert_allclose(outputs[EMERGENCY_OUTPUT], outputs[AUDIO_OUTPUT], rtol=1e-5)
    assert not np.allclose(first[EMERGENCY_OUTPUT], second[EMERGENCY_OUTPUT])
    # and real tokens do move the text head
    spoken = _predict(model, _inputs(SMALL, batch=2, seed=1))
    assert not np.allclose(spoken[TEXT_OUTPUT], first[TEXT_OUTPUT])


def test_multimodal_verdict_weighs_the_words_and_the_sound_and_the_words_pick_the_category(
) -> None:
    model = build_multimodal(config=SMALL, vocab_size=VOCAB_SIZE)
    ngrams = model.get_layer("text_ngrams")
    unigram = np.zeros((VOCAB_SIZE, 1), dtype="float32")
    unigram[7] = 3.0  # token 7 makes the words report an emergency
    unigram[9] = -3.0  # token 9 makes them an everyday call
    ngrams.set_weights([unigram, np.zeros((ngrams.bigram_buckets, 1), "float32"),
                        np.zeros((N_GROUPS, 1), "float32"), np.zeros(1, "float32")])
    words_category = model.get_layer("words_category")
    weights = words_category.get_weights()
    weights[2][:] = 0.0
    weights[2][0, CATEGORIES.index("fire")] = 5.0  # the first lexicon group names a fire
    words_category.set_weights(weights)
    tokens = np.array([[7, 7, 0, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0, 0, 0],
                       [0, 0, 0, 0, 0, 0, 0, 0], [9, 9, 9, 9, 9, 9, 9, 9]], dtype="int32")
    inputs = _inputs(SMALL, batch=4, tokens=tokens)
    inputs[LEXICON_INPUT] = np.zeros((4, N_GROUPS), "float32")
    inputs[LEXICON_INPUT][:, 0] = [3.0, 3.0, 0.0, 3.0]
    outputs = _predict(model, inputs)
    sigmoid = 1.0 / (1.0 + np.exp(-np.array([3.0, -3.0])))  # 7 twice counts once
    np.testing.assert_allclose(outputs[GATE_OUTPUT][:2, 0], sigmoid, rtol=1e-5)

    def logit(p: np.ndarray) -> np.ndarray:
        return np.log(p / (1 - p))

    audio = outputs[AUDIO_OUTPUT][:, 0]
    # starting coefficients (1, 1, 0, 0 | 1, 0): logit(gate) + logit(audio) with words;
    # without a transcript, or with one that fills the input (maybe cut off), the audio
    want = 1 / (1 + np.exp(-(logit(audio) + logit(np.array([sigmoid[0], sigmoid[1], 0.5, 0.5])))))
    want[2:] = audio[2:]
    np.testing.assert_allclose(outputs[EMERGENCY_OUTPUT][:, 0], want, rtol=1e-4)
    categories = np.argmax(outputs[CATEGORY_OUTPUT], axis=1)
    assert list(categories[:2]) == [CATEGORIES.index("fire")] * 2  # the words' category
    fused = keras.Model(model.inputs, model.get_layer("fused_category").output)
    np.testing.assert_allclose(outputs[CATEGORY_OUTPUT][2:],  # no words: the fused head's
                               keras.ops.convert_to_numpy(fused(inputs, training=False))[2:],
                               rtol=1e-5)


def test_vgg16_without_weights_is_random_init_and_trainable(models: dict) -> None:
    base = models["vgg16_transfer"].get_layer("vgg16")
    assert base.trainable
    assert base.input.shape[1:] == (VGG_IMAGE_SIZE, VGG_IMAGE_SIZE, 3)
    assert weights_origin(weights_path=None) == "random-init"


def test_vgg16_loads_local_weights_and_freezes(tmp_path) -> None:
    keras.utils.set_random_seed(7)
    source = keras.applications.VGG16(include_top=False, weights=None,
                                      input_shape=(VGG_IMAGE_SIZE, VGG_IMAGE_SIZE, 3))
    weights_file = str(tmp_path / "vgg16_notop.weights.h5")
    source.save_weights(weights_file)
    keras.utils.set_random_seed(8)
    model = build_vgg16_transfer(config=SMALL, weights_path=weights_file)
    base = model.get_layer("vgg16")
    assert not base.trainable
    for got, want in zip(base.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)
    trainable = {weight.path.split("/")[0] for weight in model.trainable_weights}
    assert trainable == {"vgg_dense1", "vgg_dense2", EMERGENCY_OUTPUT, CATEGORY_OUTPUT}
    assert weights_origin(weights_path=weights_file) == "imagenet-local:vgg16_notop.weights.h5"


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_vgg16_bad_weights_files_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        build_vgg16_transfer(config=SMALL, weights_path=str(tmp_path / "absent.weights.h5"))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    wrong = str(tmp_path / "other.weights.h5")
    other.save_weights(wrong)
    with pytest.raises(ConfigError, match="does not hold VGG-16"):
        build_vgg16_transfer(config=SMALL, weights_path=wrong)


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_saved_models_load_in_safe_mode(models: dict, name: str, tmp_path) -> None:
    path = str(tmp_path / f"{name}.keras")
    models[name].save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    inputs = _inputs(SMALL, batch=2)
    want, got = _predict(models[name], inputs), _predict(loaded, inputs)
    for output in want:
        np.testing.assert_allclose(got[output], want[output], rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    def weights(seed: int) -> list[np.ndarray]:
        return build_model("lstm_mfcc", config=SMALL, vocab_size=2, seed=seed).get_weights()

    first, again, other = weights(3), weights(3), weights(4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_build_model_rejects_unknown_names_and_misplaced_options() -> None:
    with pytest.raises(ConfigError) as info:
        build_model("yamnet", config=SMALL, vocab_size=10, seed=0)
    assert "'yamnet'" in str(info.value)
    assert "cnn_mel" in str(info.value) and "multimodal" in str(info.value)
    with pytest.raises(ConfigError, match="unknown model 'yamnet'"):
        model_input_names("yamnet")
    with pytest.raises(ConfigError, match="only used by model 'vgg16_transfer'"):
        build_model("cnn_mel", config=SMALL, vocab_size=10, seed=0, vgg_weights="x.h5")


def test_builders_validate_config_and_vocab_size() -> None:
    with pytest.raises(ConfigError, match="vocab_size=1 must be >= 2"):
        build_multimodal(config=SMALL, vocab_size=1)
    tiny = FeatureConfig(window_s=1.0, hop_s=1.0, n_fft=512, hop_length=160, n_mels=16,
                         n_frames=101)
    with pytest.raises(ConfigError, match="n_mels=16"):
        build_model("cnn_mel", config=tiny, vocab_size=2, seed=0)
    for name in ("cnn_mel", "vgg16_transfer"):
        with pytest.raises(ConfigError, match="floor_db=0.0 must be < 0 dB"):
            build_model(name, config=FeatureConfig(floor_db=0.0), vocab_size=2, seed=0)


def test_default_losses_cover_every_output() -> None:
    for name in MODEL_BUILDERS:
        assert set(default_losses(name)) == set(model_output_names(name))
        assert set(default_loss_weights(name)) == set(model_output_names(name))
    losses = default_losses("multimodal")
    assert losses[CATEGORY_OUTPUT] == "sparse_categorical_crossentropy"
    assert losses[PRANK_OUTPUT] == "binary_crossentropy"
