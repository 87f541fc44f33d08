"""Tests of transforms.audio on audio written in the test."""

from __future__ import annotations

import dataclasses
import io
import tracemalloc
import types

import librosa
import numpy as np
import pytest
import soundfile as sf

from transforms import audio
from transforms.errors import AudioError, ConfigError
from transforms.spec import DEFAULT_FEATURES, FeatureConfig


def sine(freq_hz: float, *, seconds: float, rate_hz: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate_hz))) / rate_hz
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_hz(samples: np.ndarray, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate_hz)[np.argmax(spectrum)])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


class Unseekable(io.RawIOBase):
    """A pipe-like binary stream: readable, not seekable."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


# --- decoding every supported format -------------------------------------------------

# (fmt, subtype, rate, max abs error of a 0.5-amplitude sine after the round trip)
LOSSLESS_OR_QUANTISED = [
    ("WAV", "PCM_U8", 8_000, 1 / 127),
    ("WAV", "PCM_16", 16_000, 1 / 32_000),
    ("WAV", "PCM_24", 44_100, 1e-6),
    ("WAV", "PCM_32", 48_000, 1e-6),
    ("WAV", "FLOAT", 22_050, 0.0),
    ("WAV", "DOUBLE", 16_000, 0.0),
    ("FLAC", "PCM_16", 8_000, 1 / 32_000),
    ("FLAC", "PCM_24", 48_000, 1e-6),
]


@pytest.mark.parametrize("fmt,subtype,rate,tolerance", LOSSLESS_OR_QUANTISED)
def test_decode_round_trip_keeps_values_rate_and_duration(fmt, subtype, rate, tolerance):
    signal = sine(440, seconds=1.5, rate_hz=rate)
    data = audio.encode_audio(signal, sample_rate_hz=rate, fmt=fmt, subtype=subtype)

    waveform = audio.decode_audio(data, name="x")

    assert waveform.sample_rate_hz == rate
    assert waveform.n_channels == 1
    assert waveform.samples.dtype == np.float32
    assert waveform.duration_s == pytest.approx(1.5)
    assert np.max(np.abs(waveform.samples[0] - signal)) <= tolerance


@pytest.mark.parametrize("subtype,relative", [("ULAW", 1 / 16), ("ALAW", 1 / 16)])
def test_g711_telephone_audio_at_8k_within_companding_error(subtype, relative):
    # G.711 keeps ~4 mantissa bits: the error is at most |x|/16 (plus one step near 0).
    signal = sine(1_000, seconds=2.0, rate_hz=8_000, amplitude=0.8)
    data = audio.encode_audio(signal, sample_rate_hz=8_000, subtype=subtype)

    waveform = audio.decode_audio(data)

    assert (waveform.sample_rate_hz, waveform.n_channels) == (8_000, 1)
    assert waveform.duration_s == pytest.approx(2.0)
    error = np.abs(waveform.samples[0] - signal)
    assert np.all(error <= relative * np.abs(signal) + 2e-3)
    assert 0 < np.max(error)  # the codec really is lossy: the test would see a bypass


def test_ogg_vorbis_keeps_frequency_level_and_duration():
    signal = sine(440, seconds=3.0, rate_hz=16_000)
    data = audio.encode_audio(signal, sample_rate_hz=16_000, fmt="OGG", subtype="VORBIS")

    waveform = audio.decode_audio(data)

    assert (waveform.sample_rate_hz, waveform.n_channels) == (16_000, 1)
    assert waveform.duration_s == pytest.approx(3.0, abs=0.01)
    assert peak_hz(waveform.samples[0], 16_000) == pytest.approx(440, abs=1)
    assert rms(waveform.samples[0]) == pytest.approx(rms(signal), rel=0.05)


@pytest.fixture(scope="module")
def stereo_48k() -> tuple[np.ndarray, bytes]:
    """2 s at 48 kHz: 440 Hz on the left (caller), 1 kHz at a lower level on the right."""
    left = sine(440, seconds=2.0, rate_hz=48_000, amplitude=0.6)
    right = sine(1_000, seconds=2.0, rate_hz=48_000, amplitude=0.2)
    samples = np.stack([left, right])
    return samples, audio.encode_audio(samples, sample_rate_hz=48_000, subtype="PCM_24")


def test_stereo_native_decode_keeps_both_channels(stereo_48k):
    samples, data = stereo_48k

    waveform = audio.decode_audio(data)

    assert (waveform.sample_rate_hz, waveform.n_channels) == (48_000, 2)
    assert waveform.samples.shape == samples.shape
    np.testing.assert_allclose(waveform.samples, samples, atol=1e-6)


@pytest.mark.parametrize("channel,freq_hz,level", [(0, 440, 0.6), (1, 1_000, 0.2)])
def test_stereo_channel_pick_returns_that_channel(stereo_48k, channel, freq_hz, level):
    samples, data = stereo_48k

    waveform = audio.decode_audio(data, channel=channel)

    assert waveform.samples.shape == (1, samples.shape[1])
    np.testing.assert_allclose(waveform.samples[0], samples[channel], atol=1e-6)
    assert peak_hz(waveform.samples[0], 48_000) == pytest.approx(freq_hz, abs=1)
    assert rms(waveform.samples[0]) == pytest.approx(level / np.sqrt(2), rel=1e-3)


def test_stereo_mixdown_to_16k_is_mean_of_channels_resampled(stereo_48k):
    samples, data = stereo_48k

    waveform = audio.decode_audio(data, target_hz=16_000)

    expected = audio.resample(samples.mean(axis=0), orig_hz=48_000, target_hz=16_000)
    assert (waveform.sample_rate_hz, waveform.n_channels) == (16_000, 1)
    assert waveform.samples.shape == (1, 32_000)
    # Block-by-block streaming resampling equals the one-shot resampling.
    np.testing.assert_allclose(waveform.samples[0], expected, atol=1e-4)


def test_decode_reads_unseekable_and_seekable_file_objects(stereo_48k):
    samples, data = stereo_48k
    mid = io.BytesIO(b"junk" + data)
    mid.seek(4)  # decoding starts at the object's position

    from_pipe = audio.decode_audio(io.BufferedReader(Unseekable(data)), channel=1)
    from_file = audio.decode_audio(mid, channel=1)

    np.testing.assert_allclose(from_pipe.samples[0], samples[1], atol=1e-6)
    np.testing.assert_allclose(from_file.samples[0], samples[1], atol=1e-6)


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resample_to_16k_keeps_pitch_and_duration(rate):
    data = audio.encode_audio(sine(440, seconds=2.0, rate_hz=rate), sample_rate_hz=rate,
                              subtype="ULAW" if rate == 8_000 else "PCM_16")

    waveform = audio.decode_audio(data, target_hz=16_000)

    assert waveform.sample_rate_hz == 16_000
    assert waveform.samples.shape == (1, 32_000)
    assert waveform.duration_s == pytest.approx(2.0)
    assert peak_hz(waveform.samples[0], 16_000) == pytest.approx(440, abs=0.5)
    # Away from the edges the level is that of the original sine.
    assert rms(waveform.samples[0, 1_000:-1_000]) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resample_helper_same_rate_is_identity_and_rejects_bad_rates():
    signal = sine(300, seconds=0.1, rate_hz=8_000)
    assert np.array_equal(audio.resample(signal, orig_hz=8_000, target_hz=8_000), signal)
    assert audio.resample(signal, orig_hz=8_000, target_hz=16_000).shape == (1_600,)
    with pytest.raises(ConfigError, match="target_hz=0"):
        audio.resample(signal, orig_hz=8_000, target_hz=0)
    with pytest.raises(AudioError, match=r"1-D.*\(2, 800\)"):
        audio.resample(np.zeros((2, 800), np.float32), orig_hz=8_000, target_hz=16_000)


def test_to_mono_means_or_picks_and_validates_channel():
    samples = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]], np.float32)
    np.testing.assert_array_equal(audio.to_mono(samples), [0.5, 0.5, 0.0])
    np.testing.assert_array_equal(audio.to_mono(samples, channel=1), [0.0, 1.0, -0.5])
    with pytest.raises(AudioError, match=r"channel=2 not in \[0, 2\)"):
        audio.to_mono(samples, channel=2)


# --- invalid audio -------------------------------------------------------------------

def _float_wav_with(value: float) -> bytes:
    signal = sine(440, seconds=6.0, rate_hz=8_000)
    signal[5 * 8_000] = value  # in the second 4-s decoding block, at 5 s
    buffer = io.BytesIO()
    sf.write(buffer, signal, 8_000, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def _unknown_length_flac() -> bytes:
    data = bytearray(audio.encode_audio(sine(440, seconds=0.5, rate_hz=8_000),
                                        sample_rate_hz=8_000, fmt="FLAC"))
    # STREAMINFO total_samples (36 bits from byte 21) = 0 means "unknown".
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    return bytes(data)


_WAV = audio.encode_audio(sine(440, seconds=0.5, rate_hz=8_000), sample_rate_hz=8_000)

INVALID = [
    ("empty", b"", {}, "empty"),
    ("random", np.random.default_rng(7).bytes(4_000), {}, "Format not recognised"),
    ("truncated header", _WAV[:30], {}, "No 'data' chunk"),
    ("zero frames", audio.encode_audio(np.zeros(0, np.float32), sample_rate_hz=8_000), {},
     "zero audio frames"),
    ("NaN", _float_wav_with(np.nan), {}, r"NaN or Inf\) at 5.000 s"),
    ("Inf", _float_wav_with(-np.inf), {}, r"NaN or Inf\) at 5.000 s"),
    ("channel 1 of mono", _WAV, {"channel": 1}, r"channel=1 not in \[0, 1\)"),
    ("channel -1", _WAV, {"channel": -1}, r"channel=-1 not in \[0, 1\)"),
    ("unknown length", _unknown_length_flac(), {}, "no length"),
    ("too short for 16 kHz", audio.encode_audio(np.zeros(1, np.float32), sample_rate_hz=48_000),
     {"target_hz": 16_000}, "decoded no samples"),
]


@pytest.mark.parametrize("case,data,kwargs,cause", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_audio_raises_audio_error_with_cause_and_name(case, data, kwargs, cause):
    with pytest.raises(AudioError, match=cause) as raised:
        audio.decode_audio(data, name="calls/c-17.wav", **kwargs)
    assert "calls/c-17.wav" in str(raised.value)


def test_libsndfile_error_is_chained_as_cause():
    with pytest.raises(AudioError) as raised:
        audio.decode_audio(b"RIFF0000WAVEjunkjunk", name="bad.wav")
    assert isinstance(raised.value.__cause__, sf.LibsndfileError)


def test_audio_features_reports_invalid_audio_too():
    with pytest.raises(AudioError, match="c-9.*zero audio frames"):
        audio.audio_features(audio.encode_audio(np.zeros(0), sample_rate_hz=8_000),
                             config=DEFAULT_FEATURES, name="c-9")


def test_source_that_is_not_bytes_or_a_file_is_rejected():
    with pytest.raises(AudioError, match="c-3: source must be bytes.*got str"):
        audio.decode_audio("calls/c-3.wav", name="c-3")


def test_bad_target_rate_is_a_config_error():
    with pytest.raises(ConfigError, match="target_hz=-8000"):
        audio.decode_audio(_WAV, target_hz=-8_000)


# --- memory --------------------------------------------------------------------------

def test_long_48k_stereo_decode_streams_in_little_memory(tmp_path):
    rate, seconds = 48_000, 600
    path = tmp_path / "long.wav"
    block = np.stack([sine(440, seconds=10, rate_hz=rate), sine(880, seconds=10, rate_hz=rate)])
    with sf.SoundFile(path, "w", samplerate=rate, channels=2, subtype="PCM_16") as out:
        for _ in range(seconds // 10):
            out.write(block.T)
    native_bytes = seconds * rate * 2 * 4  # float32 stereo at 48 kHz: 230 MB
    output_bytes = seconds * 16_000 * 4  # float32 mono at 16 kHz: 38 MB

    tracemalloc.start()
    try:
        with open(path, "rb") as file:
            waveform = audio.decode_audio(file, name=str(path), target_hz=16_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert waveform.samples.shape == (1, seconds * 16_000)
    assert waveform.duration_s == pytest.approx(seconds)
    assert peak < output_bytes + 8_000_000, peak
    assert peak < native_bytes / 5
    # The mean of 440 Hz and 880 Hz sines (each 0.5 peak) is two 0.25 sines: RMS 0.25.
    assert rms(waveform.samples[0, -16_000:]) == pytest.approx(0.25, rel=0.01)


# --- windows -------------------------------------------------------------------------

@pytest.mark.parametrize("seconds,hop_s,expected", [
    (0.5, 7.0, 1), (7.0, 7.0, 1), (7.1, 7.0, 2), (600.0, 7.0, 86),
    (0.5, 3.5, 1), (7.0, 3.5, 1), (7.1, 3.5, 2), (600.0, 3.5, 171),
])
def test_window_count_keeps_the_last_partial_window(seconds, hop_s, expected):
    rate = 16_000
    n = audio.window_count(int(round(seconds * rate)), window_samples=7 * rate,
                           hop_samples=int(hop_s * rate))
    assert n == expected


def test_window_count_rejects_empty_audio_and_bad_hops():
    with pytest.raises(AudioError, match="n_samples=0"):
        audio.window_count(0, window_samples=100, hop_samples=50)
    with pytest.raises(ConfigError, match="hop_samples=101"):
        audio.window_count(1_000, window_samples=100, hop_samples=101)
    with pytest.raises(ConfigError, match="window_samples=0"):
        audio.window_count(1_000, window_samples=0, hop_samples=1)


def test_frame_windows_copies_samples_and_zero_pads_the_tail():
    samples = np.arange(1, 12, dtype=np.float32)  # 1..11

    windows, starts = audio.frame_windows(samples, window_samples=4, hop_samples=3)

    assert windows.dtype == np.float32 and starts.dtype == np.int64
    np.testing.assert_array_equal(starts, [0, 3, 6, 9])
    np.testing.assert_array_equal(windows, [[1, 2, 3, 4], [4, 5, 6, 7], [7, 8, 9, 10],
                                            [10, 11, 0, 0]])
    exact, _ = audio.frame_windows(samples[:10], window_samples=4, hop_samples=3)
    np.testing.assert_array_equal(exact[-1], [7, 8, 9, 10])  # no empty extra window
    short, short_starts = audio.frame_windows(samples[:2], window_samples=4, hop_samples=4)
    np.testing.assert_array_equal(short, [[1, 2, 0, 0]])
    np.testing.assert_array_equal(short_starts, [0])


# --- log-mel and MFCC ----------------------------------------------------------------

SMALL = FeatureConfig(sample_rate_hz=16_000, window_s=1.0, hop_s=0.5, n_fft=512,
                      hop_length=160, n_mels=40, n_frames=101, fmin_hz=0.0, fmax_hz=8_000.0,
                      floor_db=-80.0, n_mfcc=13)


def numpy_log_mel(window: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """An independent log-mel: numpy STFT and the Slaney mel scale written out here."""
    n_fft, hop = config.n_fft, config.hop_length
    padded = np.pad(window.astype(np.float64), n_fft // 2)
    n_frames = 1 + (padded.size - n_fft) // hop
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic
    frames = np.stack([padded[i * hop:i * hop + n_fft] * hann for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (n_frames, n_bins)

    def hz_to_mel(hz):  # Slaney: linear below 1 kHz (200/3 Hz per mel), log above
        hz = np.asarray(hz, np.float64)
        return np.where(hz < 1_000, hz * 3 / 200, 15 + np.log(np.maximum(hz, 1e-9) / 1_000)
                        * 27 / np.log(6.4))

    def mel_to_hz(mel):
        return np.where(mel < 15, mel * 200 / 3, 1_000 * np.exp((mel - 15) * np.log(6.4) / 27))

    edges = mel_to_hz(np.linspace(hz_to_mel(config.fmin_hz), hz_to_mel(config.fmax_hz),
                                  config.n_mels + 2))
    bins = np.arange(n_fft // 2 + 1) * config.sample_rate_hz / n_fft
    filters = np.zeros((config.n_mels, bins.size))
    for m in range(config.n_mels):
        lo, centre, hi = edges[m:m + 3]
        rising = (bins - lo) / (centre - lo)
        falling = (hi - bins) / (hi - centre)
        filters[m] = np.maximum(0, np.minimum(rising, falling)) * 2 / (hi - lo)
    mel = filters @ power.T
    return np.maximum(10 * np.log10(np.maximum(mel, 1e-10)), config.floor_db), edges[1:-1]


def test_log_mel_of_a_sine_matches_an_independent_numpy_computation():
    signal = sine(1_250, seconds=1.0, rate_hz=16_000, amplitude=0.3)
    windows = np.stack([signal, np.zeros_like(signal)])

    result = audio.log_mel(windows, config=SMALL)

    assert result.shape == (2, SMALL.n_mels, SMALL.n_frames) and result.dtype == np.float32
    reference, centres_hz = numpy_log_mel(signal, SMALL)
    loud = reference > -40  # compare where float32 rounding noise cannot matter
    assert loud.sum() > 300
    np.testing.assert_allclose(result[0][loud], reference[loud], atol=0.05)
    # The band whose centre is nearest 1250 Hz holds the most energy (middle frame).
    assert np.argmax(result[0, :, 50]) == np.argmin(np.abs(centres_hz - 1_250))
    # Silence sits at the configured floor.
    assert np.all(result[1] == SMALL.floor_db)


@pytest.mark.parametrize("config", [DEFAULT_FEATURES, SMALL], ids=["default", "small"])
def test_log_mel_matches_librosa_melspectrogram_in_db(config):
    # SMALL's 40 filters end in a partial block of the banded mel projection.
    rng = np.random.default_rng(11)
    windows = rng.uniform(-0.5, 0.5, (2, config.window_samples)).astype(np.float32)
    windows[1, config.window_samples // 2:] = 0.0  # a quiet tail, as in a last window

    result = audio.log_mel(windows, config=config)

    for row, window in zip(result, windows):
        power = librosa.feature.melspectrogram(
            y=window, sr=config.sample_rate_hz, n_fft=config.n_fft,
            hop_length=config.hop_length, center=True, pad_mode="constant", power=2.0,
            n_mels=config.n_mels, fmin=config.fmin_hz, fmax=config.fmax_hz)
        expected = np.maximum(librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None),
                               config.floor_db)
        np.testing.assert_allclose(row, expected, atol=1e-3)
    assert np.all(result[1, :, -config.n_frames // 3:] == config.floor_db)


def test_log_mel_default_config_shape_and_wrong_window_width():
    windows = np.zeros((1, DEFAULT_FEATURES.window_samples), np.float32)
    windows[0, ::100] = 0.5
    result = audio.log_mel(windows, config=DEFAULT_FEATURES)
    assert result.shape == (1, 128, 300)
    assert result.max() > -20
    with pytest.raises(AudioError, match=r"window_samples=112000.*\(1, 16000\)"):
        audio.log_mel(np.zeros((1, 16_000), np.float32), config=DEFAULT_FEATURES)


def test_mfcc_matches_librosa_and_is_time_major():
    rng = np.random.default_rng(3)
    windows = rng.uniform(-0.3, 0.3, (3, SMALL.window_samples)).astype(np.float32)
    mel_db = audio.log_mel(windows, config=SMALL)

    mfcc = audio.mfcc_from_log_mel(mel_db, config=SMALL)

    assert mfcc.shape == (3, SMALL.n_frames, SMALL.n_mfcc) and mfcc.dtype == np.float32
    expected = librosa.feature.mfcc(S=mel_db[1], n_mfcc=SMALL.n_mfcc)  # (n_mfcc, n_frames)
    np.testing.assert_allclose(mfcc[1], expected.T, rtol=1e-4, atol=1e-3)
    with pytest.raises(AudioError, match=r"\(3, 40, 100\)"):
        audio.mfcc_from_log_mel(mel_db[:, :, :100], config=SMALL)
    with pytest.raises(ConfigError, match="n_mfcc=41 must be <= n_mels=40"):
        audio.mfcc_from_log_mel(mel_db, config=dataclasses.replace(SMALL, n_mfcc=41))


# --- audio_features ------------------------------------------------------------------

def test_audio_features_of_8k_ulaw_stereo_call():
    rate = 8_000
    call = np.stack([sine(440, seconds=7.5, rate_hz=rate), sine(300, seconds=7.5, rate_hz=rate)])
    data = audio.encode_audio(call, sample_rate_hz=rate, subtype="ULAW")

    features = audio.audio_features(io.BytesIO(data), config=DEFAULT_FEATURES, name="c-1")

    assert features.log_mel.shape == (2, 128, 300) and features.log_mel.dtype == np.float32
    np.testing.assert_array_equal(features.window_starts_s, [0.0, 7.0])
    assert features.window_starts_s.dtype == np.float32
    assert features.duration_s == pytest.approx(7.5)
    assert (features.sample_rate_hz, features.n_channels) == (8_000, 2)
    mono = audio.decode_audio(data, target_hz=16_000).samples[0]
    windows, _ = audio.frame_windows(mono, window_samples=112_000, hop_samples=112_000)
    np.testing.assert_array_equal(features.log_mel, audio.log_mel(windows,
                                                                  config=DEFAULT_FEATURES))
    # The second window holds 0.5 s of signal then zero padding at the floor.
    assert np.all(features.log_mel[1, :, 40:] == DEFAULT_FEATURES.floor_db)


def test_audio_features_in_chunks_equals_all_at_once(monkeypatch):
    rng = np.random.default_rng(5)
    data = audio.encode_audio(rng.uniform(-0.5, 0.5, 44_100 * 3).astype(np.float32),
                              sample_rate_hz=44_100)
    windows, starts = audio.frame_windows(
        audio.decode_audio(data, target_hz=16_000).samples[0],
        window_samples=SMALL.window_samples, hop_samples=SMALL.hop_samples)
    monkeypatch.setattr(audio, "_LOGMEL_CHUNK_WINDOWS", 2)

    features = audio.audio_features(data, config=SMALL)

    assert features.log_mel.shape[0] == 5  # 0, 0.5, 1, 1.5, 2 s
    np.testing.assert_array_equal(features.window_starts_s, starts / 16_000)
    np.testing.assert_array_equal(features.log_mel, audio.log_mel(windows, config=SMALL))


# --- encode_audio --------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,message", [
    ({"fmt": "MP4"}, ConfigError, "fmt='MP4'"),
    ({"fmt": "OGG", "subtype": "PCM_16"}, ConfigError, "subtype='PCM_16'.*VORBIS"),
    ({"sample_rate_hz": 0}, ConfigError, "sample_rate_hz=0"),
])
def test_encode_audio_rejects_bad_format_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        audio.encode_audio(np.zeros(10, np.float32), **{"sample_rate_hz": 8_000, **kwargs})


@pytest.mark.parametrize("samples,message", [
    (np.array([0.0, 1.5], np.float32), r"peak \|sample\|=1.5"),
    (np.array([0.0, np.nan], np.float32), "NaN or Inf"),
    (np.zeros((2, 2, 2), np.float32), r"shape \(2, 2, 2\)"),
])
def test_encode_audio_rejects_bad_samples(samples, message):
    with pytest.raises(AudioError, match=message):
        audio.encode_audio(samples, sample_rate_hz=8_000)


def _wav_with_header(samples: np.ndarray, *, rate_hz: int = 8_000, **fields: int) -> bytes:
    """A 16-bit mono WAV of ``samples`` with header fields overwritten: ``sample_rate``,
    ``channels`` or ``data_bytes`` (the data chunk's declared size)."""
    data = bytearray(audio.encode_audio(samples, sample_rate_hz=rate_hz))
    offsets = {"channels": (22, 2), "sample_rate": (24, 4), "data_bytes": (40, 4)}
    for field, value in fields.items():
        offset, size = offsets[field]
        data[offset:offset + size] = value.to_bytes(size, "little")
    return bytes(data)


@pytest.mark.parametrize("fields, message", [
    ({"sample_rate": 2_000_000_000}, "sample rate 2,000,000,000 Hz is outside 1,000-384,000 Hz"),
    ({"sample_rate": 10}, "sample rate 10 Hz is outside"),
    ({"channels": 64}, "64 channels are more than 16"),
])
def test_an_absurd_header_fails_before_anything_is_allocated(fields, message):
    samples = sine(440, seconds=1.0, rate_hz=8_000)
    tracemalloc.start()
    try:
        with pytest.raises(AudioError, match=message):
            audio.audio_features(_wav_with_header(samples, **fields), config=DEFAULT_FEATURES,
                                 name="c.wav")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6


def test_a_header_claiming_more_than_the_longest_call_fails():
    """Compressed formats state their length in the header (a WAV's comes from its size)."""
    five_hours = types.SimpleNamespace(samplerate=8_000, channels=1, frames=8_000 * 5 * 3600)
    with pytest.raises(AudioError, match="gives 18,000 s of audio; at most 14,400 s"):
        audio._check_header(five_hours, name="c.flac")


def test_a_truncated_wav_is_scored_with_a_warning():
    samples = sine(440, seconds=2.0, rate_hz=8_000)
    whole = audio.encode_audio(samples, sample_rate_hz=8_000)
    half = whole[:44 + 8_000 * 2]  # the header says 2 s; the data holds 1 s

    features = audio.audio_features(half, config=DEFAULT_FEATURES, name="c.wav")

    assert features.warnings == (audio.TRUNCATED,)
    assert features.duration_s == pytest.approx(1.0, abs=1e-3)
    assert audio.audio_features(whole, config=DEFAULT_FEATURES, name="c.wav").warnings == ()
    # a header written to a pipe gives no size: not a truncation
    streamed = _wav_with_header(samples, data_bytes=0xFFFFFFFF)
    assert not audio.wav_is_truncated(io.BytesIO(streamed))


@pytest.mark.parametrize("data_bytes", [2, 42])
def test_less_audio_than_the_shortest_call_fails_the_call(data_bytes):
    whole = audio.encode_audio(sine(440, seconds=2.0, rate_hz=8_000), sample_rate_hz=8_000)
    with pytest.raises(AudioError, match=r"s of audio; at least 0.1 s is needed"):
        audio.audio_features(whole[:44 + data_bytes], config=DEFAULT_FEATURES, name="c.wav")
