"""The thresholds of the prank-candidate rules, as options and settings (no model code here,
so the command line reads them without loading TensorFlow)."""

from __future__ import annotations

import dataclasses

from transforms.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class PrankRules:
    """Thresholds of the prank-candidate rules (all scores are probabilities in [0, 1]).

    - ``text_audio_mismatch``: the transcript claims an emergency (text score ≥
      ``mismatch_text_min``) that the audio does not carry (audio score ≤
      ``mismatch_audio_max``); its score is ``text_score - audio_score``.
    - ``repeat_caller``: the same caller called ≥ ``repeat_min_calls`` times in the run and
      none of those calls scored above ``repeat_max_emergency``; its score grows with the
      number of calls, ``1 - 1 / n_calls`` (3 calls → 0.67, 5 → 0.8).
    - ``model_prank``: the model's own prank head ≥ ``model_min``; its score is that value.
    A call becomes a prank candidate when the largest reason score ≥ ``flag_min`` and it is
    not flagged as an emergency.
    """

    mismatch_text_min: float = 0.7
    mismatch_audio_max: float = 0.3
    repeat_min_calls: int = 3
    repeat_max_emergency: float = 0.3
    model_min: float = 0.5
    flag_min: float = 0.5

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "repeat_min_calls":
                if value < 2:
                    raise ConfigError(f"repeat_min_calls={value} must be >= 2")
            elif not 0.0 <= value <= 1.0:
                raise ConfigError(f"{field.name}={value} must be in [0, 1]")
