"""The telephone channel: mixing at a signal-to-noise ratio, band-limiting, levels, encoding.

SNR convention (:func:`mix_at_snr`): the signal's RMS is taken over its *active* samples
only (20 ms frames within :data:`ACTIVE_RANGE_DB` dB of the loudest frame: the speech, not
the pauses between lines), the noise's RMS over the *whole* noise track. So a call at
10 dB has speech 10 dB above the average background, however long its pauses.

Formats (:data:`FORMATS`): most calls are 8 kHz G.711 (μ-law or A-law WAV), band-limited
to 300–3400 Hz like a telephone line; the rest are 16–48 kHz PCM WAV (some stereo: caller
left, call-taker right), FLAC and OGG/Vorbis. Encoding goes through
:func:`transforms.audio.encode_audio`, the project's one encoder. libsndfile gives each OGG
stream a random serial number; :func:`set_ogg_serial` replaces it with one derived from
the call, so OGG files are byte-reproducible too.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Mapping

import numpy as np

from synth.sounds import band
from transforms.audio import encode_audio
from transforms.errors import ConfigError

#: Frames quieter than the loudest frame by more than this (dB) are pauses, not signal.
ACTIVE_RANGE_DB = 30.0
ACTIVE_FRAME_S = 0.02
#: The telephone pass band (Hz).
TELEPHONE_BAND_HZ = (300.0, 3400.0)


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    """How a call is stored: soundfile ``container``/``subtype``, rate, channels, weight.

    ``telephone``: band-limited to :data:`TELEPHONE_BAND_HZ`; ``weight``: share of the
    calls of a corpus in this format.
    """

    name: str
    container: str
    subtype: str
    sample_rate_hz: int
    n_channels: int
    extension: str
    telephone: bool
    weight: float


FORMATS: Mapping[str, AudioFormat] = {f.name: f for f in (
    AudioFormat("ulaw_8k", "WAV", "ULAW", 8_000, 1, "wav", True, 0.35),
    AudioFormat("alaw_8k", "WAV", "ALAW", 8_000, 1, "wav", True, 0.30),
    AudioFormat("pcm16_16k", "WAV", "PCM_16", 16_000, 1, "wav", False, 0.12),
    AudioFormat("pcm24_44k", "WAV", "PCM_24", 44_100, 1, "wav", False, 0.04),
    AudioFormat("pcm16_48k_stereo", "WAV", "PCM_16", 48_000, 2, "wav", False, 0.05),
    AudioFormat("flac_16k", "FLAC", "PCM_16", 16_000, 1, "flac", False, 0.07),
    AudioFormat("ogg_32k", "OGG", "VORBIS", 32_000, 1, "ogg", False, 0.07),
)}


def active_mask(signal: np.ndarray, *, sample_rate_hz: int) -> np.ndarray:
    """Which samples of ``signal`` (n,) are active: bool (n,).

    The signal is cut into :data:`ACTIVE_FRAME_S` frames; a frame is active when its RMS
    is within :data:`ACTIVE_RANGE_DB` dB of the loudest frame's. All-zero signal: none.
    """
    if signal.ndim != 1:
        raise ConfigError(f"signal must be 1-D (n,), got shape {signal.shape}")
    frame = max(1, int(ACTIVE_FRAME_S * sample_rate_hz))
    n_frames = -(-signal.size // frame)
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[:signal.size] = signal
    energy = np.mean(np.square(padded.reshape(n_frames, frame)), axis=1)
    loudest = float(energy.max(initial=0.0))
    if loudest == 0.0:
        return np.zeros(signal.size, dtype=bool)
    active = energy >= loudest * 10 ** (-ACTIVE_RANGE_DB / 10)
    return np.repeat(active, frame)[:signal.size]


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def active_rms(signal: np.ndarray, *, sample_rate_hz: int) -> float:
    """RMS of ``signal`` (n,) over its active samples (:func:`active_mask`); 0 when silent."""
    return _rms(signal[active_mask(signal, sample_rate_hz=sample_rate_hz)])


def mix_at_snr(*, signal: np.ndarray, noise: np.ndarray, snr_db: float,
               sample_rate_hz: int) -> np.ndarray:
    """``signal + g * noise`` with ``g`` chosen so the SNR is ``snr_db`` dB: float32 (n,).

    SNR = 20·log10(RMS of the signal's active samples / RMS of ``g * noise`` over its whole
    length); see the module docstring. ``signal`` and ``noise``: (n,) of equal length,
    neither silent.
    """
    if signal.shape != noise.shape or signal.ndim != 1:
        raise ConfigError(f"signal {signal.shape} and noise {noise.shape} must be equal (n,)")
    if not np.isfinite(snr_db):
        raise ConfigError(f"snr_db={snr_db} must be finite")
    signal_rms, noise_rms = active_rms(signal, sample_rate_hz=sample_rate_hz), _rms(noise)
    if signal_rms == 0.0 or noise_rms == 0.0:
        raise ConfigError(f"cannot mix at an SNR: signal RMS {signal_rms}, noise RMS {noise_rms}")
    gain = signal_rms / noise_rms / 10 ** (snr_db / 20)
    return (signal + gain * noise).astype(np.float32)


def telephone_band(samples: np.ndarray, *, sample_rate_hz: int) -> np.ndarray:
    """``samples`` (n,) through the telephone pass band, 300–3400 Hz (6th order); float32."""
    low, high = TELEPHONE_BAND_HZ
    return band(samples, sample_rate_hz=sample_rate_hz, low_hz=low, high_hz=high, order=6)


def set_level(samples: np.ndarray, *, peak: float) -> np.ndarray:
    """``samples`` scaled so that max |x| = ``peak``, then clipped to [-1, 1]: a peak above 1
    overdrives the line as a shouting caller does. Silence stays silence."""
    if not 0 < peak <= 4:
        raise ConfigError(f"peak={peak} must be in (0, 4]")
    current = float(np.abs(samples).max(initial=0.0))
    scaled = samples * (peak / current) if current > 0 else samples
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def encode_call(samples: np.ndarray, *, audio_format: AudioFormat, ogg_serial: int) -> bytes:
    """Encodes ``samples`` (n_channels, n) in ``audio_format``; OGG gets serial ``ogg_serial``."""
    if samples.ndim != 2 or samples.shape[0] != audio_format.n_channels:
        raise ConfigError(f"samples {samples.shape} must be ({audio_format.n_channels}, n) "
                          f"for format {audio_format.name}")
    data = encode_audio(samples if audio_format.n_channels > 1 else samples[0],
                        sample_rate_hz=audio_format.sample_rate_hz,
                        fmt=audio_format.container, subtype=audio_format.subtype)
    if audio_format.container == "OGG":
        return set_ogg_serial(data, serial=ogg_serial)
    return data


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_OGG_CRC = _crc_table()
_OGG_HEADER = 27  # bytes of an Ogg page header before its segment table


def _ogg_crc(page: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, initial 0."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def set_ogg_serial(data: bytes, *, serial: int) -> bytes:
    """An Ogg file ``data`` with every page's stream serial set to ``serial`` (0..2³²-1)
    and its checksum recomputed. Raises ConfigError when ``data`` is not a single-stream
    Ogg file."""
    if not 0 <= serial < 2 ** 32:
        raise ConfigError(f"serial={serial} must be in [0, 2**32)")
    out = bytearray(data)
    position = 0
    while position < len(out):
        if out[position:position + 4] != b"OggS" or position + _OGG_HEADER > len(out):
            raise ConfigError(f"no Ogg page at byte {position} of {len(out)}")
        n_segments = out[position + 26]
        lacing = out[position + _OGG_HEADER:position + _OGG_HEADER + n_segments]
        end = position + _OGG_HEADER + n_segments + sum(lacing)
        if end > len(out):
            raise ConfigError(f"Ogg page at byte {position} runs past the end ({end} > {len(out)})")
        out[position + 14:position + 18] = struct.pack("<I", serial)
        out[position + 22:position + 26] = b"\0\0\0\0"
        out[position + 22:position + 26] = struct.pack("<I", _ogg_crc(bytes(out[position:end])))
        position = end
    return bytes(out)
