"""Mixing at an SNR, the telephone band, levels and reproducible encoding."""

import io

import numpy as np
import pytest
import soundfile as sf

from synth import channel
from transforms.audio import decode_audio
from transforms.errors import ConfigError

SR = 8_000


def _db(ratio: float) -> float:
    return 20 * np.log10(ratio)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 25.0])
def test_mix_hits_the_requested_snr_over_the_active_part(snr_db):
    rng = np.random.default_rng(1)
    t = np.arange(4 * SR) / SR
    signal = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    signal[SR:3 * SR] = 0.0  # two seconds of pause that must not count
    noise = rng.standard_normal(signal.size).astype(np.float32)
    mixed = channel.mix_at_snr(signal=signal, noise=noise, snr_db=snr_db, sample_rate_hz=SR)
    added = mixed - signal
    active = np.r_[0:SR, 3 * SR:4 * SR]
    measured = _db(_rms(signal[active]) / _rms(added))
    assert abs(measured - snr_db) < 1.0
    # counting the pauses would have given a ratio 3 dB lower: the convention matters
    assert abs(_db(_rms(signal) / _rms(added)) - (snr_db - 3.0)) < 1.0


def test_active_mask_finds_the_loud_part_only():
    x = np.zeros(SR, dtype=np.float32)
    x[2000:6000] = 0.5
    x[6000:] = 1e-4  # 74 dB below: a pause
    mask = channel.active_mask(x, sample_rate_hz=SR)
    assert mask[2100:5900].all() and not mask[:1900].any() and not mask[6200:].any()
    assert not channel.active_mask(np.zeros(100, np.float32), sample_rate_hz=SR).any()


def test_mix_refuses_silence_and_mismatched_lengths():
    with pytest.raises(ConfigError):
        channel.mix_at_snr(signal=np.zeros(SR, np.float32), noise=np.ones(SR, np.float32),
                           snr_db=0.0, sample_rate_hz=SR)
    with pytest.raises(ConfigError):
        channel.mix_at_snr(signal=np.ones(SR, np.float32), noise=np.ones(SR - 1, np.float32),
                           snr_db=0.0, sample_rate_hz=SR)


@pytest.mark.parametrize("frequency, passes", [(100, False), (1_000, True), (3_000, True),
                                               (3_900, False)])
def test_telephone_band_passes_300_to_3400_hz(frequency, passes):
    t = np.arange(2 * SR) / SR
    tone = np.sin(2 * np.pi * frequency * t).astype(np.float32)
    out = channel.telephone_band(tone, sample_rate_hz=SR)[SR:]  # past the transient
    gain_db = _db(_rms(out) / _rms(tone[SR:]))
    assert (gain_db > -3.0) if passes else (gain_db < -15.0), gain_db


def test_set_level_scales_to_the_peak_and_clips_overdrive():
    x = np.array([0.0, 0.1, -0.2, 0.05], dtype=np.float32)
    assert np.isclose(np.abs(channel.set_level(x, peak=0.8)).max(), 0.8)
    loud = channel.set_level(x, peak=1.5)
    assert np.abs(loud).max() == 1.0 and loud[1] == pytest.approx(0.75)


def test_every_format_encodes_and_decodes_at_its_rate_and_channels():
    rng = np.random.default_rng(0)
    for fmt in channel.FORMATS.values():
        n = fmt.sample_rate_hz // 2
        samples = (0.2 * rng.standard_normal((fmt.n_channels, n))).astype(np.float32)
        data = channel.encode_call(samples, audio_format=fmt, ogg_serial=7)
        info = sf.info(io.BytesIO(data))
        assert (info.samplerate, info.channels, info.subtype) == \
            (fmt.sample_rate_hz, fmt.n_channels, fmt.subtype), fmt.name
        assert decode_audio(data, name=fmt.name).samples.shape == (fmt.n_channels, n)
    assert abs(sum(f.weight for f in channel.FORMATS.values()) - 1.0) < 1e-9
    telephone = sum(f.weight for f in channel.FORMATS.values() if f.telephone)
    assert 0.6 <= telephone <= 0.7


def test_ogg_with_a_fixed_serial_is_byte_reproducible_and_still_valid():
    fmt = channel.FORMATS["ogg_32k"]
    samples = (0.1 * np.random.default_rng(2).standard_normal((1, 32_000))).astype(np.float32)
    first = channel.encode_call(samples, audio_format=fmt, ogg_serial=1234)
    second = channel.encode_call(samples, audio_format=fmt, ogg_serial=1234)
    assert first == second
    assert int.from_bytes(first[14:18], "little") == 1234
    decoded, rate = sf.read(io.BytesIO(first), dtype="float32")
    assert rate == 32_000 and decoded.shape == (32_000,)
    corrupt = bytearray(first)
    corrupt[0:4] = b"Nope"
    with pytest.raises(ConfigError):
        channel.set_ogg_serial(bytes(corrupt), serial=1)


def test_a_five_minute_ogg_call_encodes():
    """libsndfile's Vorbis encoder crashed on one write of a few million frames."""
    fmt = channel.FORMATS["ogg_32k"]
    n = 300 * fmt.sample_rate_hz
    samples = (0.05 * np.random.default_rng(4).standard_normal((1, n))).astype(np.float32)
    data = channel.encode_call(samples, audio_format=fmt, ogg_serial=3)
    assert sf.info(io.BytesIO(data)).frames == n
