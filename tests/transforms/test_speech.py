"""The speech detector (Silero VAD on onnxruntime) on real recordings and on sounds that are
not speech."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from transforms.audio import decode_audio
from transforms.errors import AudioError
from transforms.speech import (
    BLOCK_S,
    MAX_RESERVE,
    MIN_SPEECH_S,
    PROBE_SAMPLES,
    measure_speech,
    speech_detector,
    speech_probes,
)

RATE_HZ = 16_000
#: Real human speech: Asterisk's English telephone prompts (8 kHz recordings of a voice).
PROMPTS = "/usr/share/asterisk/sounds/en_US_f_Allison/"


def _recording(name: str) -> np.ndarray:
    with open(PROMPTS + name, "rb") as handle:
        return decode_audio(handle.read(), name=name, target_hz=RATE_HZ).samples[0]


def _speech_s(samples: np.ndarray) -> float:
    probes = speech_probes(samples, sample_rate_hz=RATE_HZ)
    return measure_speech([probes], detector=speech_detector())[0]


def _hold_music(t: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """A plucked melody of half-second notes (three harmonics) over a sustained chord."""
    melody = np.zeros_like(t)
    note = int(0.5 * RATE_HZ)
    for start in range(0, t.size - note + 1, note):
        pitch = rng.choice([262, 294, 330, 349, 392, 440, 494, 523])
        local = t[:note]
        melody[start:start + note] = np.exp(-3 * local) * sum(
            weight * np.sin(2 * np.pi * pitch * harmonic * local)
            for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)))
    mix = melody + 0.15 * sum(np.sin(2 * np.pi * f * t) for f in (131, 165, 196))
    return 0.3 * mix / np.abs(mix).max()


def _not_speech() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(20 * RATE_HZ) / RATE_HZ
    return {
        "line hiss": 0.003 * rng.standard_normal(t.size),
        "loud noise": np.clip(0.3 * rng.standard_normal(t.size), -1, 1),
        "440 Hz tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "DTMF": 0.2 * (np.sin(2 * np.pi * 697 * t) + np.sin(2 * np.pi * 1209 * t))
        * ((t % 0.2) < 0.1),
        "hold music": _hold_music(t, rng=rng),
        "0.3 s clip": 0.3 * rng.standard_normal(int(0.3 * RATE_HZ)),
        "one sample": np.array([0.2]),
    }


@pytest.mark.parametrize("name", list(_not_speech()))
def test_sounds_that_are_not_speech_have_none(name):
    assert _speech_s(_not_speech()[name].astype(np.float32)) < MIN_SPEECH_S


def test_digital_silence_is_not_read_by_the_model():
    probes = speech_probes(np.zeros(30 * RATE_HZ, np.float32), sample_rate_hz=RATE_HZ)
    assert probes.probes.shape == (0, PROBE_SAMPLES) and probes.audible_s == 0.0
    assert measure_speech([probes], detector=speech_detector()) == [0.0]


@pytest.mark.parametrize("name", ["demo-echotest.wav", "priv-callee-options.wav",
                                  "vm-intro.wav"])
def test_a_real_voice_is_speech(name):
    samples = _recording(name)
    speech_s = _speech_s(samples)
    assert 0.3 * samples.size / RATE_HZ < speech_s <= samples.size / RATE_HZ


def test_the_first_round_reads_spaced_blocks_and_the_loudest_then_a_bounded_reserve():
    rng = np.random.default_rng(1)
    block = int(BLOCK_S * RATE_HZ)
    samples = (0.01 * rng.standard_normal(100 * block)).astype(np.float32)
    samples[61 * block:62 * block] *= 30  # the loudest block, between two spaced ones
    samples[:10 * block] = 0  # silent opening: not audible, never probed

    probes = speech_probes(samples, sample_rate_hz=RATE_HZ)

    assert probes.n_spaced == 90 // 8 + 1 and probes.n_first == probes.n_spaced + 1
    assert len(probes.probes) == probes.n_first + MAX_RESERVE
    assert probes.audible_s == pytest.approx(90 * BLOCK_S, abs=1e-3)
    loudest = probes.probes[probes.n_spaced]
    assert np.abs(loudest).max() > 10 * np.abs(probes.probes[0]).max()


def test_the_second_round_finds_speech_the_first_missed():
    """Loud noise bursts are the loudest blocks; a short real utterance sits in a block the
    first round does not read."""
    rng = np.random.default_rng(2)
    block = int(BLOCK_S * RATE_HZ)
    n_blocks = 24
    samples = (0.002 * rng.standard_normal(n_blocks * block)).astype(np.float32)
    for index in (3, 11, 19):
        samples[index * block:(index + 1) * block] = np.clip(
            0.9 * rng.standard_normal(block), -1, 1)
    probes = speech_probes(samples, sample_rate_hz=RATE_HZ)
    first_round = probes.probes[:probes.n_first]
    voice = _recording("demo-echotest.wav")[2 * RATE_HZ:2 * RATE_HZ + block]
    unread = next(index for index in range(n_blocks) if not any(
        np.array_equal(row[:50], _narrow(samples, index, block)[:50]) for row in first_round))
    samples[unread * block:(unread + 1) * block] = 0.3 * voice / np.abs(voice).max()

    assert _speech_s(samples) > 0.1


def _narrow(samples: np.ndarray, index: int, block: int) -> np.ndarray:
    """Block ``index`` as a probe holds it: 8 kHz."""
    return soxr.resample(samples[index * block:(index + 1) * block], RATE_HZ, 8_000,
                         quality="HQ")


def test_a_batch_of_calls_measures_as_each_call_alone():
    calls = [_recording("demo-echotest.wav"), _not_speech()["loud noise"].astype(np.float32),
             _recording("vm-intro.wav")]
    alone = [_speech_s(samples) for samples in calls]
    together = measure_speech([speech_probes(samples, sample_rate_hz=RATE_HZ)
                               for samples in calls], detector=speech_detector())
    assert together == pytest.approx(alone, abs=0.05)
    assert together[1] == 0.0 and together[0] > 1 and together[2] > 1


def test_bad_inputs_are_refused():
    with pytest.raises(AudioError, match="1-D"):
        speech_probes(np.zeros((2, 100), np.float32), sample_rate_hz=RATE_HZ)
    with pytest.raises(AudioError, match="must be >= 8000"):
        speech_probes(np.zeros(100, np.float32), sample_rate_hz=4_000)
    with pytest.raises(AudioError, match="streams must be"):
        speech_detector().chunk_probabilities(np.zeros((1, 100), np.float32))
