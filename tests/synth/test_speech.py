"""espeak-ng Korean speech: voices, deliveries, synthesis."""

import numpy as np
import pytest

from synth import speech
from transforms.errors import ConfigError

TEXT = "불이 났어요. 빨리 와 주세요."


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_synthesis_speaks_at_the_requested_rate_and_is_deterministic():
    voice = speech.Voice(variant="f2", speed_wpm=170, pitch=50, amplitude=100, word_gap=1)
    at_8k = speech.synthesize(TEXT, voice=voice, sample_rate_hz=8_000)
    at_16k = speech.synthesize(TEXT, voice=voice, sample_rate_hz=16_000)
    assert at_8k.dtype == np.float32 and 1.0 < at_8k.size / 8_000 < 5.0
    assert abs(at_16k.size / 16_000 - at_8k.size / 8_000) < 0.01
    assert _rms(at_8k) > 0.01
    assert np.array_equal(at_8k, speech.synthesize(TEXT, voice=voice, sample_rate_hz=8_000))


def test_a_users_first_utterance_is_the_same_as_every_later_one(tmp_path, monkeypatch):
    # a fresh HOME has no PulseAudio runtime directory: the client espeak-ng opens would
    # make one with rand(), the source of a breathy variant's noise
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH", "PULSE_SERVER"):
        monkeypatch.delenv(name, raising=False)
    breathy = speech.Voice(variant="f3", speed_wpm=178, pitch=44, amplitude=100, word_gap=1)
    first = speech.synthesize(TEXT, voice=breathy, sample_rate_hz=16_000)
    again = speech.synthesize(TEXT, voice=breathy, sample_rate_hz=16_000)
    assert np.array_equal(first, again)
    assert list(tmp_path.iterdir()) == []


def test_distress_is_faster_and_louder_than_an_amused_delivery():
    rng = np.random.default_rng(0)
    base = speech.caller_voice(caller_id="010-1234-5678", seed=1)
    distress = speech.deliver(base, style="distress", rng=rng)
    amused = speech.deliver(base, style="amused", rng=rng)
    assert distress.speed_wpm > amused.speed_wpm and distress.pitch > amused.pitch
    loud = speech.synthesize(TEXT, voice=distress, sample_rate_hz=8_000)
    calm = speech.synthesize(TEXT, voice=amused, sample_rate_hz=8_000)
    assert loud.size < calm.size and _rms(loud) > _rms(calm)


def test_a_caller_keeps_the_same_voice_across_calls():
    assert speech.caller_voice(caller_id="010-1111-2222", seed=3) == \
        speech.caller_voice(caller_id="010-1111-2222", seed=3)
    voices = {speech.caller_voice(caller_id=f"010-0000-{k:04d}", seed=3) for k in range(20)}
    assert len(voices) > 10


def test_bad_voice_settings_and_blank_text_are_refused():
    with pytest.raises(ConfigError):
        speech.Voice(variant="robot", speed_wpm=170, pitch=50, amplitude=100, word_gap=1)
    with pytest.raises(ConfigError):
        speech.Voice(variant="f1", speed_wpm=170, pitch=150, amplitude=100, word_gap=1)
    voice = speech.Voice(variant="f1", speed_wpm=170, pitch=50, amplitude=100, word_gap=1)
    with pytest.raises(ConfigError):
        speech.synthesize("  ", voice=voice, sample_rate_hz=8_000)
