"""The one place that names the features, their shapes and units.

Feature code (``transforms``), models (``models``) and pipelines (``pipelines``) all read
their shapes from :class:`FeatureConfig`, and a model bundle stores the config it was
trained with, so train and serve cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Callable, Mapping

from transforms.errors import ConfigError
from transforms.lexicon import N_GROUPS

#: Model input names; :data:`MODEL_INPUTS` gives each one's shape and dtype.
LOGMEL_INPUT = "logmel"
MFCC_INPUT = "mfcc"
TOKENS_INPUT = "tokens"
LEXICON_INPUT = "lexicon"

#: Model output names.
EMERGENCY_OUTPUT = "emergency"  # (1,) probability the window is an emergency
CATEGORY_OUTPUT = "category"  # (n_categories,) softmax over CATEGORIES
AUDIO_OUTPUT = "audio_emergency"  # (1,) audio-only emergency probability (multimodal)
TEXT_OUTPUT = "text_emergency"  # (1,) text-only emergency claim probability (multimodal)
PRANK_OUTPUT = "prank"  # (1,) probability the call is a prank (multimodal)
#: (1,) probability, from the transcript's n-grams alone, that the call is a real emergency
#: (neither everyday nor a prank); gates the multimodal verdict (models/layers.py).
GATE_OUTPUT = "text_gate"
#: The outputs that are one sigmoid probability per window (all but the category).
SIGMOID_OUTPUTS = (EMERGENCY_OUTPUT, AUDIO_OUTPUT, TEXT_OUTPUT, PRANK_OUTPUT, GATE_OUTPUT)

#: How a transcript becomes tokens (``FeatureConfig.tokens``, see
#: :meth:`transforms.text.OktTokenizer.for_config`): ``"morphemes"``, every morpheme Okt
#: finds, as written, particles, endings and punctuation included (…되나요 ?, …났어요 !);
#: ``"content_words"``, content words in dictionary form without stop words.
TOKEN_SETS = ("morphemes", "content_words")

LABELS = ("emergency", "normal", "prank")
EMERGENCY_CATEGORIES = (
    "sexual_assault", "robbery", "theft", "violence", "trapped", "electrical", "gas",
    "fire", "medical", "storm", "earthquake", "fall", "collapse", "help_request",
)
NORMAL_CATEGORIES = ("normal_indoor", "normal_outdoor")
#: Category slugs of docs/taxonomy.md, in the order of the model's category output.
CATEGORIES = EMERGENCY_CATEGORIES + NORMAL_CATEGORIES
#: The categories a call of each label may carry (docs/taxonomy.md): a prank carries the
#: emergency it claims.
LABEL_CATEGORIES = {"emergency": EMERGENCY_CATEGORIES, "normal": NORMAL_CATEGORIES,
                    "prank": EMERGENCY_CATEGORIES}
SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Everything that fixes the numbers the model sees.

    Audio is decoded, mixed to mono, resampled to ``sample_rate_hz`` and cut into windows of
    ``window_s`` seconds every ``hop_s`` seconds; each window becomes a log-mel
    spectrogram of ``n_mels`` bands × ``n_frames`` frames (dB re 1.0, floored at
    ``floor_db``) and an MFCC sequence of ``n_frames`` × ``n_mfcc``. Transcripts become
    ``text_length`` token ids, made of the tokens ``tokens`` names (one of
    :data:`TOKEN_SETS`).
    """

    sample_rate_hz: int = 16_000
    window_s: float = 7.0
    hop_s: float = 7.0
    n_fft: int = 1024
    hop_length: int = 374
    n_mels: int = 128
    n_frames: int = 300
    fmin_hz: float = 20.0
    fmax_hz: float = 8_000.0
    floor_db: float = -100.0
    n_mfcc: int = 40
    text_length: int = 96
    tokens: str = "morphemes"

    def __post_init__(self) -> None:
        for name in ("sample_rate_hz", "n_fft", "hop_length", "n_mels", "n_frames",
                     "n_mfcc", "text_length"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"{name}={value} must be > 0")
        if self.tokens not in TOKEN_SETS:
            raise ConfigError(f"tokens={self.tokens!r} must be one of {TOKEN_SETS}")
        if self.window_s <= 0:
            raise ConfigError(f"window_s={self.window_s} must be > 0")
        if not 0 < self.hop_s <= self.window_s:
            raise ConfigError(f"hop_s={self.hop_s} must be in (0, window_s={self.window_s}]")
        if not 0 <= self.fmin_hz < self.fmax_hz <= self.sample_rate_hz / 2:
            raise ConfigError(
                f"fmin_hz={self.fmin_hz}, fmax_hz={self.fmax_hz} must satisfy "
                f"0 <= fmin < fmax <= sample_rate_hz/2={self.sample_rate_hz / 2}")
        if self.frames_for(self.window_samples) != self.n_frames:
            raise ConfigError(
                f"hop_length={self.hop_length} gives {self.frames_for(self.window_samples)} "
                f"frames per {self.window_s}-s window, not n_frames={self.n_frames}")

    @property
    def window_samples(self) -> int:
        """Samples in one window at ``sample_rate_hz``."""
        return int(round(self.window_s * self.sample_rate_hz))

    @property
    def hop_samples(self) -> int:
        """Samples between the starts of two windows at ``sample_rate_hz``."""
        return int(round(self.hop_s * self.sample_rate_hz))

    def frames_for(self, n_samples: int) -> int:
        """STFT frames (centred, as librosa) for ``n_samples`` samples."""
        return 1 + n_samples // self.hop_length

    @property
    def logmel_shape(self) -> tuple[int, int, int]:
        return (self.n_mels, self.n_frames, 1)

    @property
    def mfcc_shape(self) -> tuple[int, int]:
        return (self.n_frames, self.n_mfcc)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "FeatureConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown feature config keys: {unknown}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def fingerprint(self) -> str:
        """A short stable hash of the values, to tell two configs apart at a glance."""
        blob = self.to_json().encode()
        return hashlib.sha256(blob).hexdigest()[:12]


DEFAULT_FEATURES = FeatureConfig()


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """One model input, per window: its ``dtype`` and its ``shape`` under a config."""

    name: str
    dtype: str
    shape_of: Callable[[FeatureConfig], tuple[int, ...]]
    doc: str

    def shape(self, config: FeatureConfig) -> tuple[int, ...]:
        """The per-window shape (no batch axis) under ``config``."""
        return self.shape_of(config)


#: Every model input, by name: the one definition the builders, the bundle checks, the
#: serving code and :func:`transforms.features.window_inputs` all read.
MODEL_INPUTS: Mapping[str, ModelInput] = {
    spec.name: spec for spec in (
        ModelInput(LOGMEL_INPUT, "float32", lambda config: config.logmel_shape,
                   "(n_mels, n_frames, 1): the window's log-mel spectrogram in dB"),
        ModelInput(MFCC_INPUT, "float32", lambda config: config.mfcc_shape,
                   "(n_frames, n_mfcc): the MFCC sequence of the same window"),
        ModelInput(TOKENS_INPUT, "int32", lambda config: (config.text_length,),
                   "(text_length,): the transcript's token ids, 0 = PAD"),
        ModelInput(LEXICON_INPUT, "float32", lambda config: (N_GROUPS,),
                   "(lexicon.N_GROUPS,): the transcript's tokens in each lexicon group, 0-3"),
    )
}
