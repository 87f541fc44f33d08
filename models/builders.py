"""Keras 3 functional builders of the seed's four architectures and the final multimodal one.

Every model takes named inputs (``transforms.spec`` ``*_INPUT``) with shapes read from a
:class:`~transforms.spec.FeatureConfig` and returns a dict of named outputs:

- ``EMERGENCY_OUTPUT``: sigmoid ``(1,)``, probability the window is an emergency;
- ``CATEGORY_OUTPUT``: softmax ``(len(CATEGORIES),)`` over the taxonomy;
- multimodal only: ``AUDIO_OUTPUT`` (sigmoid on the audio branch alone), ``TEXT_OUTPUT``
  (sigmoid on the LSTM text branch alone: "the transcript claims an emergency"),
  ``PRANK_OUTPUT`` ("this call is a prank") and ``GATE_OUTPUT`` (a linear model of the
  transcript's n-grams and lexicon groups: "the words report a real emergency"); its
  ``EMERGENCY_OUTPUT`` is a calibrated combination of the gate, the audio and the text
  scores (:func:`build_multimodal`, :mod:`models.layers`).

Besides Keras's own layers, only the registered layers of :mod:`models.layers` are
used, so a saved ``.keras`` file loads with ``safe_mode=True``. Compiling and training are
the trainer's job; :func:`default_losses` and :func:`default_loss_weights` give it a
starting point.
"""

from __future__ import annotations

import os
from typing import Callable

import keras

from models.layers import (
    GATE_LAYER,
    WORDS_CATEGORY_LAYER,
    WORDS_PRANK_LAYER,
    CalibratedVerdict,
    NgramLogit,
    TranscriptOr,
)
from transforms.errors import ConfigError
from transforms.lexicon import N_GROUPS
from transforms.spec import (
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
    MODEL_INPUTS,
    FeatureConfig,
)

#: Side in pixels of the square image VGG-16 sees (the seed saved 150×150 spectrograms).
VGG_IMAGE_SIZE = 150
#: Mean grey level subtracted before VGG-16, the mean of its ImageNet BGR channel means.
VGG_GREY_MEAN = (103.939 + 116.779 + 123.68) / 3
#: Embedding width of the text branch (the seed's 100).
EMBEDDING_DIM = 100
DROPOUT_RATE = 0.3
#: L2 penalty on the weights of the multimodal model's words models (per weight, added to
#: the loss of every batch) while the network trains; the refit after the fit has its own
#: (``models.words.DEFAULT_GATE_L2``, on the summed log loss).
GATE_L2 = 1e-4
DEFAULT_MODEL = "multimodal"
#: How the audio branch turns its last convolution maps into features: ``"flatten"`` (the
#: seed's Flatten, so its Dense layer weighs every time step on its own) or ``"time"``
#: (the maximum and the mean over time of each band and map, so a sound counts the same
#: wherever it falls in the window).
AUDIO_POOLINGS = ("flatten", "time")
#: The pooling each model with an audio branch uses unless told otherwise. ``cnn_mel`` is
#: the seed's; the multimodal default pools over time, which generalises better to calls
#: unlike the training ones.
DEFAULT_AUDIO_POOLING = {"cnn_mel": "flatten", "multimodal": "time"}

# The audio branch's first Conv2D (5×5, valid) and two MaxPool (4, 2) need at least this.
_MIN_MELS = 20
_MIN_FRAMES = 8


def weights_origin(*, weights_path: str | None) -> str:
    """Where a model's starting weights came from, as the bundle metadata records it.

    ``"imagenet-local:<file name>"`` when ImageNet weights were loaded from ``weights_path``
    (VGG-16 transfer), else ``"random-init"`` (every model trained from scratch).
    """
    if weights_path is None:
        return "random-init"
    return f"imagenet-local:{os.path.basename(weights_path)}"


def _check_floor_db(config: FeatureConfig) -> None:
    """Raise ConfigError unless the dB floor is negative (the input scaling divides by it)."""
    if config.floor_db >= 0:
        raise ConfigError(f"floor_db={config.floor_db} must be < 0 dB")


def _check_pooling(pooling: str) -> None:
    if pooling not in AUDIO_POOLINGS:
        raise ConfigError(f"audio pooling {pooling!r} must be one of {AUDIO_POOLINGS}")


def _check_audio_shape(config: FeatureConfig) -> None:
    """Raise ConfigError unless a log-mel window survives the audio branch's pooling."""
    if config.n_mels < _MIN_MELS or config.n_frames < _MIN_FRAMES:
        raise ConfigError(
            f"n_mels={config.n_mels}, n_frames={config.n_frames} are too small for the CNN: "
            f"need n_mels >= {_MIN_MELS} and n_frames >= {_MIN_FRAMES}")
    _check_floor_db(config)


def _input(name: str, config: FeatureConfig) -> keras.KerasTensor:
    """The Keras input ``name`` with the shape and dtype :data:`MODEL_INPUTS` gives it."""
    spec = MODEL_INPUTS[name]
    return keras.Input(shape=spec.shape(config), dtype=spec.dtype, name=name)


def _pool_over_time(maps: keras.KerasTensor) -> keras.KerasTensor:
    """Maps ``(bands, steps, channels)`` → ``(2 · bands · channels,)``: the maximum and the
    mean over the time steps of every band and channel."""
    _, bands, steps, channels = maps.shape
    x = keras.layers.Permute((2, 1, 3), name="audio_time_first")(maps)
    x = keras.layers.Reshape((steps, bands * channels), name="audio_steps")(x)
    return keras.layers.Concatenate(name="audio_pooled")([
        keras.layers.GlobalMaxPooling1D(name="audio_time_max")(x),
        keras.layers.GlobalAveragePooling1D(name="audio_time_mean")(x)])


def _audio_branch(logmel: keras.KerasTensor, *, config: FeatureConfig,
                  pooling: str) -> keras.KerasTensor:
    """The seed's CNN over one log-mel window: ``(n_mels, n_frames, 1)`` dB → 64 features.

    ``pooling`` (:data:`AUDIO_POOLINGS`) joins the last convolution's maps, ``(7, 74, 48)``
    for a 128×300 window, to the Dense layer: ``"flatten"`` as the seed (24,864 values,
    1.6 M weights in the Dense layer), or ``"time"`` (:func:`_pool_over_time`: 672 values,
    43 k weights).

    Input normalisation is a fixed ``Rescaling`` mapping dB to ``[-1, 1]`` (``floor_db`` →
    -1, 0 dB → +1; speech at -60..0 dB lands in about -0.2..1). It is chosen over
    ``BatchNormalization`` because the dB scale is known in advance: the mapping needs no
    batch statistics, behaves the same in training and scoring and on batches of one.
    """
    scale = 2.0 / -config.floor_db
    x = keras.layers.Rescaling(scale, offset=1.0, name="logmel_scale")(logmel)
    x = keras.layers.Conv2D(24, (5, 5), name="audio_conv1")(x)
    x = keras.layers.MaxPooling2D((4, 2), name="audio_pool1")(x)
    x = keras.layers.ReLU(name="audio_relu1")(x)
    x = keras.layers.Conv2D(48, (5, 5), padding="same", name="audio_conv2")(x)
    x = keras.layers.MaxPooling2D((4, 2), name="audio_pool2")(x)
    x = keras.layers.ReLU(name="audio_relu2")(x)
    x = keras.layers.Conv2D(48, (5, 5), padding="same", name="audio_conv3")(x)
    x = keras.layers.ReLU(name="audio_relu3")(x)
    if pooling == "time":
        x = _pool_over_time(x)
    else:
        x = keras.layers.Flatten(name="audio_flatten")(x)
    x = keras.layers.Dropout(DROPOUT_RATE, name="audio_dropout1")(x)
    x = keras.layers.Dense(64, name="audio_dense")(x)
    x = keras.layers.ReLU(name="audio_relu4")(x)
    return keras.layers.Dropout(DROPOUT_RATE, name="audio_dropout2")(x)


def _emergency_head(features: keras.KerasTensor, *, name: str) -> keras.KerasTensor:
    return keras.layers.Dense(1, activation="sigmoid", name=name)(features)


def _category_head(features: keras.KerasTensor, *, name: str = CATEGORY_OUTPUT
                   ) -> keras.KerasTensor:
    return keras.layers.Dense(len(CATEGORIES), activation="softmax", name=name)(features)


def _common_heads(features: keras.KerasTensor) -> dict[str, keras.KerasTensor]:
    """The outputs of the single-input models: emergency ``(1,)`` sigmoid, category
    softmax, both on ``features``."""
    return {EMERGENCY_OUTPUT: _emergency_head(features, name=EMERGENCY_OUTPUT),
            CATEGORY_OUTPUT: _category_head(features)}


def build_cnn_mel(*, config: FeatureConfig,
                  audio_pooling: str = DEFAULT_AUDIO_POOLING["cnn_mel"]) -> keras.Model:
    """The seed's CNN over one log-mel window (``audio_pooling``: see :func:`_audio_branch`).

    Input ``LOGMEL_INPUT`` float32 ``(n_mels, n_frames, 1)`` dB; outputs
    ``EMERGENCY_OUTPUT`` ``(1,)`` and ``CATEGORY_OUTPUT`` ``(len(CATEGORIES),)``.
    """
    _check_audio_shape(config)
    _check_pooling(audio_pooling)
    logmel = _input(LOGMEL_INPUT, config)
    features = _audio_branch(logmel, config=config, pooling=audio_pooling)
    return keras.Model(inputs={LOGMEL_INPUT: logmel}, outputs=_common_heads(features),
                       name="cnn_mel")


def build_lstm_mfcc(*, config: FeatureConfig) -> keras.Model:
    """LSTM over the MFCC sequence of one window.

    Input ``MFCC_INPUT`` float32 ``(n_frames, n_mfcc)``; ``BatchNormalization`` per
    coefficient (MFCC scales differ by orders of magnitude: c0 grows with ``n_mels`` times
    the mean dB, higher coefficients stay near ±10, so no single fixed scale fits) →
    LSTM 128 → Dense 64 → heads ``EMERGENCY_OUTPUT`` and ``CATEGORY_OUTPUT``.
    """
    mfcc = _input(MFCC_INPUT, config)
    x = keras.layers.BatchNormalization(name="mfcc_norm")(mfcc)
    x = keras.layers.LSTM(128, name="mfcc_lstm")(x)
    x = keras.layers.Dense(64, activation="relu", name="mfcc_dense")(x)
    x = keras.layers.Dropout(DROPOUT_RATE, name="mfcc_dropout")(x)
    return keras.Model(inputs={MFCC_INPUT: mfcc}, outputs=_common_heads(x), name="lstm_mfcc")


def build_vgg16_transfer(*, config: FeatureConfig, weights_path: str | None = None) -> keras.Model:
    """VGG-16 transfer over the log-mel window seen as a grey image.

    Input ``LOGMEL_INPUT`` float32 ``(n_mels, n_frames, 1)`` dB is mapped to grey levels
    0..255 (``floor_db`` → 0, 0 dB → 255) minus :data:`VGG_GREY_MEAN` (VGG's own
    "caffe" preprocessing, identical on the three channels), resized to
    ``VGG_IMAGE_SIZE``² and repeated to 3 channels, then VGG-16 without its top →
    Flatten → Dense 50 → Dense 20 → heads.

    With ``weights_path`` (a local ImageNet ``.h5``/``.weights.h5`` file for
    ``keras.applications.VGG16(include_top=False)``) the base loads those weights and is
    frozen; without, it starts from random weights and trains. :func:`weights_origin`
    gives the string the bundle records. The base is the nested model named ``"vgg16"``.
    """
    _check_floor_db(config)
    if weights_path is not None and not os.path.isfile(weights_path):
        raise ConfigError(f"weights_path={weights_path!r} is not a file")
    base = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(VGG_IMAGE_SIZE, VGG_IMAGE_SIZE, 3))
    if weights_path is not None:
        try:
            base.load_weights(weights_path)
        except (ValueError, OSError, KeyError) as exc:
            raise ConfigError(
                f"weights_path={weights_path!r} does not hold VGG-16 (no top) weights: {exc}"
            ) from exc
        base.trainable = False
    logmel = _input(LOGMEL_INPUT, config)
    scale = 255.0 / -config.floor_db
    x = keras.layers.Rescaling(scale, offset=255.0 - VGG_GREY_MEAN, name="logmel_grey")(logmel)
    x = keras.layers.Resizing(VGG_IMAGE_SIZE, VGG_IMAGE_SIZE, name="logmel_resize")(x)
    x = keras.layers.Concatenate(axis=-1, name="logmel_rgb")([x, x, x])
    x = base(x)
    x = keras.layers.Flatten(name="vgg_flatten")(x)
    x = keras.layers.Dense(50, activation="relu", name="vgg_dense1")(x)
    x = keras.layers.Dense(20, activation="relu", name="vgg_dense2")(x)
    return keras.Model(inputs={LOGMEL_INPUT: logmel}, outputs=_common_heads(x),
                       name="vgg16_transfer")


def build_multimodal(*, config: FeatureConfig, vocab_size: int,
                     audio_pooling: str = DEFAULT_AUDIO_POOLING["multimodal"]) -> keras.Model:
    """The seed's final model, the CNN audio branch plus an LSTM over the transcript, with
    linear words models beside the LSTM and a calibrated verdict over both modalities.

    The audio branch pools its maps over time by default (``audio_pooling="time"``, see
    :func:`_audio_branch`), where the seed flattened them: pooled, the audio-only score
    generalises to unseen call scripts.

    Inputs ``LOGMEL_INPUT`` float32 ``(n_mels, n_frames, 1)`` dB, ``TOKENS_INPUT`` int32
    ``(text_length,)`` (0 = PAD) and ``LEXICON_INPUT`` float32 ``(lexicon.N_GROUPS,)``.
    Text branch: Embedding(``vocab_size``, 100, ``mask_zero=True``) → LSTM 128. Fusion:
    Concatenate (64 + 128 = 192) → Dense 64 → the fused category and prank heads. Words
    models (:class:`~models.layers.NgramLogit` over n-grams and lexicon groups): the gate
    ("the words report a real emergency": not an everyday call, not a prank), the words'
    prank and the words' category.

    Outputs: ``AUDIO_OUTPUT`` on the audio branch alone; ``TEXT_OUTPUT`` on the LSTM alone
    ("the words claim an emergency", pranks included); ``GATE_OUTPUT``, the gate's
    sigmoid; ``CATEGORY_OUTPUT`` and ``PRANK_OUTPUT``: the words models' where the
    transcript is read whole, the fused heads' elsewhere (:class:`~models.layers.
    TranscriptOr`), so the category comes from the words and falls back on the sound; and
    the verdict ``EMERGENCY_OUTPUT`` (:class:`~models.layers.CalibratedVerdict`): a
    logistic combination of the gate, the audio and the LSTM's scores (of the audio alone
    without a transcript). A call without a transcript has all-PAD tokens, a zero lexicon,
    and the fully masked LSTM returns its zero initial state.
    """
    if vocab_size < 2:
        raise ConfigError(f"vocab_size={vocab_size} must be >= 2 (PAD and OOV)")
    _check_audio_shape(config)
    _check_pooling(audio_pooling)
    logmel = _input(LOGMEL_INPUT, config)
    tokens = _input(TOKENS_INPUT, config)
    lexicon = _input(LEXICON_INPUT, config)
    audio = _audio_branch(logmel, config=config, pooling=audio_pooling)
    text = keras.layers.Embedding(
        vocab_size, EMBEDDING_DIM, mask_zero=True, name="token_embedding")(tokens)
    text = keras.layers.LSTM(128, name="text_lstm")(text)
    fused = keras.layers.Concatenate(name="fusion")([audio, text])
    fused = keras.layers.Dense(64, activation="relu", name="fusion_dense")(fused)
    fused = keras.layers.Dropout(DROPOUT_RATE, name="fusion_dropout")(fused)

    def words_model(name: str, units: int) -> keras.KerasTensor:
        return NgramLogit(vocab_size, l2=GATE_L2, units=units, lexicon_size=N_GROUPS,
                          name=name)([tokens, lexicon])

    words_prank = keras.layers.Activation("sigmoid", name="words_prank_probability")(
        words_model(WORDS_PRANK_LAYER, 1))
    words_category = keras.layers.Softmax(name="words_category_probabilities")(
        words_model(WORDS_CATEGORY_LAYER, len(CATEGORIES)))
    outputs = {
        AUDIO_OUTPUT: _emergency_head(audio, name=AUDIO_OUTPUT),
        TEXT_OUTPUT: _emergency_head(text, name=TEXT_OUTPUT),
        GATE_OUTPUT: keras.layers.Activation("sigmoid", name=GATE_OUTPUT)(
            words_model(GATE_LAYER, 1)),
    }
    outputs[CATEGORY_OUTPUT] = TranscriptOr(name=CATEGORY_OUTPUT)(
        [words_category, _category_head(fused, name="fused_category"), tokens])
    outputs[PRANK_OUTPUT] = TranscriptOr(name=PRANK_OUTPUT)(
        [words_prank, _emergency_head(fused, name="fused_prank"), tokens])
    outputs[EMERGENCY_OUTPUT] = CalibratedVerdict(name=EMERGENCY_OUTPUT)(
        [outputs[AUDIO_OUTPUT], outputs[GATE_OUTPUT], outputs[TEXT_OUTPUT], tokens])
    return keras.Model(inputs={LOGMEL_INPUT: logmel, TOKENS_INPUT: tokens,
                               LEXICON_INPUT: lexicon},
                       outputs=outputs, name="multimodal")


MODEL_BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "cnn_mel": build_cnn_mel,
    "lstm_mfcc": build_lstm_mfcc,
    "vgg16_transfer": build_vgg16_transfer,
    "multimodal": build_multimodal,
}

_INPUTS = {
    "cnn_mel": (LOGMEL_INPUT,),
    "lstm_mfcc": (MFCC_INPUT,),
    "vgg16_transfer": (LOGMEL_INPUT,),
    "multimodal": (LOGMEL_INPUT, TOKENS_INPUT, LEXICON_INPUT),
}
_MULTIMODAL_ONLY_OUTPUTS = (AUDIO_OUTPUT, TEXT_OUTPUT, PRANK_OUTPUT, GATE_OUTPUT)


def _check_name(name: str) -> None:
    if name not in MODEL_BUILDERS:
        raise ConfigError(f"unknown model {name!r}; known models: {sorted(MODEL_BUILDERS)}")


def model_input_names(name: str) -> tuple[str, ...]:
    """The feature inputs (``transforms.spec`` ``*_INPUT``) model ``name`` takes."""
    _check_name(name)
    return _INPUTS[name]


def model_output_names(name: str) -> tuple[str, ...]:
    """The outputs (``transforms.spec`` ``*_OUTPUT``) model ``name`` produces."""
    _check_name(name)
    extra = _MULTIMODAL_ONLY_OUTPUTS if name == "multimodal" else ()
    return (EMERGENCY_OUTPUT, CATEGORY_OUTPUT) + extra


def default_losses(name: str) -> dict[str, str]:
    """Loss per output of model ``name``: binary cross-entropy for the sigmoid heads,
    sparse categorical cross-entropy (integer index into ``CATEGORIES``) for the category."""
    return {output: ("sparse_categorical_crossentropy" if output == CATEGORY_OUTPUT
                     else "binary_crossentropy")
            for output in model_output_names(name)}


def default_loss_weights(name: str) -> dict[str, float]:
    """Loss weight per output of model ``name``: 1.0 for the emergency and prank verdicts,
    0.5 for the auxiliary heads (category, audio-only, text-only)."""
    return {output: (1.0 if output in (EMERGENCY_OUTPUT, PRANK_OUTPUT) else 0.5)
            for output in model_output_names(name)}


def audio_pooling_of(name: str, requested: str | None = None) -> str | None:
    """The audio pooling model ``name`` is built with: ``requested``, or its default when
    ``None``; ``None`` for a model without the CNN audio branch (which refuses a request)."""
    _check_name(name)
    if name not in DEFAULT_AUDIO_POOLING:
        if requested is not None:
            raise ConfigError(f"audio pooling is only for models {sorted(DEFAULT_AUDIO_POOLING)}, "
                              f"not {name!r}")
        return None
    pooling = DEFAULT_AUDIO_POOLING[name] if requested is None else requested
    _check_pooling(pooling)
    return pooling


def build_model(name: str, *, config: FeatureConfig, vocab_size: int, seed: int,
                vgg_weights: str | None = None, audio_pooling: str | None = None
                ) -> keras.Model:
    """Build model ``name`` (a key of :data:`MODEL_BUILDERS`) for ``config``.

    ``seed`` seeds Python, NumPy and the backend (``keras.utils.set_random_seed``) so the
    initial weights are reproducible. ``vocab_size`` is used by ``"multimodal"`` only;
    ``vgg_weights`` (a local ImageNet weights file) by ``"vgg16_transfer"`` only;
    ``audio_pooling`` (:data:`AUDIO_POOLINGS`, default :data:`DEFAULT_AUDIO_POOLING`) by the
    models with the CNN audio branch only.
    """
    _check_name(name)
    if vgg_weights is not None and name != "vgg16_transfer":
        raise ConfigError(f"vgg_weights={vgg_weights!r} is only used by model 'vgg16_transfer', "
                          f"not {name!r}")
    pooling = audio_pooling_of(name, audio_pooling)
    options = {"multimodal": {"vocab_size": vocab_size},
               "vgg16_transfer": {"weights_path": vgg_weights}}.get(name, {})
    if pooling is not None:
        options["audio_pooling"] = pooling
    keras.utils.set_random_seed(seed)
    return MODEL_BUILDERS[name](config=config, **options)
