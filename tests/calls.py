"""Calls made in memory for tests that need features but no audio file."""

from __future__ import annotations

import numpy as np

from transforms.features import CallFeatures
from transforms.records import CallRecord
from transforms.spec import FeatureConfig


def flat_call(call_id: str, n_windows: int, *, level_db: float = -40.0,
              tokens: tuple[str, ...] = ("불",)) -> CallFeatures:
    """A call of ``n_windows`` back-to-back windows whose log-mel is ``level_db`` dB
    everywhere, with transcript ``tokens``."""
    config = FeatureConfig()
    return CallFeatures(
        record=CallRecord(call_id=call_id, audio_uri=f"{call_id}.wav", source_uri="m#row=1"),
        log_mel=np.full((n_windows, config.n_mels, config.n_frames), level_db, np.float32),
        window_starts_s=np.arange(n_windows, dtype=np.float32) * config.window_s,
        tokens=tokens, duration_s=n_windows * config.window_s, sample_rate_hz=8000,
        n_channels=1)
