"""Audio feature code: decode, mix, resample, window, log-mel and MFCC.

Pure, typed functions over numpy arrays; the same code feeds training and scoring.
Conventions: samples are float32, nominally in [-1, 1]; multi-channel arrays are
channel-major ``(n_channels, n_samples)``; rates are in Hz; times in seconds; log-mel
values are dB re 1.0 (power). Expected failures raise :class:`AudioError` (bad audio) or
:class:`ConfigError` (bad parameters), with the offending value in the message.

Decoding streams: :func:`decode_audio` reads a few seconds at a time, mixes/picks a
channel and resamples block by block, so a one-hour 48 kHz stereo call costs only its
16 kHz mono output in memory plus small buffers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
from typing import BinaryIO, Iterator

import librosa
import numpy as np
import scipy.fft
import scipy.signal
import soundfile as sf
import soxr

from transforms.errors import AudioError, ConfigError
from transforms.spec import FeatureConfig
from transforms.speech import SpeechProbes, speech_probes

_BLOCK_S = 4.0  # seconds of native audio read per block while decoding
_RESAMPLE_QUALITY = "HQ"  # soxr quality, for the one-shot and the streaming resampler
_LOGMEL_CHUNK_WINDOWS = 8  # windows turned into log-mel at once by audio_features
_MEL_BAND_FILTERS = 16  # mel filters per block of the banded mel projection (_mel_bands)
_POWER_FLOOR = 1e-10  # power floor before dB: 10*log10(1e-10) = -100 dB
_UNKNOWN_FRAMES = 2**63 - 1  # libsndfile's frame count for a stream of unknown length
#: What a header may claim before the file is refused (a corrupt header must not make the
#: decoder allocate gigabytes): sample rate, channels, duration.
RATE_RANGE_HZ = (1_000, 384_000)
MAX_CHANNELS = 16
MAX_AUDIO_S = 4 * 3600.0
#: Shortest decoded audio that is scored; a shorter file fails its call (decode stage).
MIN_AUDIO_S = 0.1
#: ``audio_warnings`` entry: the file ends before its header says.
TRUNCATED = "truncated"
_WAV_HEADER_SCAN_BYTES = 1 << 16  # how far into a WAV file its data chunk is looked for
_WAV_STREAMED_SIZES = (0, 0xFFFFFFFF, 0x7FFFF000)  # data sizes of WAVs written to a pipe
_ENCODE_BLOCK_FRAMES = 1 << 16  # frames handed to libsndfile per write while encoding

Source = bytes | bytearray | memoryview | BinaryIO


@dataclasses.dataclass(frozen=True, eq=False)
class Waveform:
    """Decoded audio.

    ``samples``: float32 ``(n_channels, n_samples)``, nominally in [-1, 1] (float files
    and resampling may overshoot slightly); ``sample_rate_hz``: samples per second.
    """

    samples: np.ndarray
    sample_rate_hz: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.dtype != np.float32:
            raise AudioError(
                f"samples must be float32 (n_channels, n_samples), got "
                f"{self.samples.dtype} {self.samples.shape}")
        _check_rate("sample_rate_hz", self.sample_rate_hz)

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Length in seconds: n_samples / sample_rate_hz."""
        return self.samples.shape[1] / self.sample_rate_hz


@dataclasses.dataclass(frozen=True, eq=False)
class AudioFeatures:
    """A call's audio as model-ready windows.

    ``log_mel``: float32 ``(n_windows, n_mels, n_frames)`` dB; ``window_starts_s``:
    float32 ``(n_windows,)`` start of each window in seconds; ``duration_s``: decoded
    length in seconds; ``sample_rate_hz`` and ``n_channels``: the file's original values;
    ``speech``: what the speech detector will read of it (:mod:`transforms.speech`);
    ``warnings``: what is wrong with the file but still scored (:data:`TRUNCATED`).
    """

    log_mel: np.ndarray
    window_starts_s: np.ndarray
    duration_s: float
    sample_rate_hz: int
    n_channels: int
    speech: SpeechProbes
    warnings: tuple[str, ...] = ()


def _check_rate(label: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{label}={value} must be > 0")


def _check_channel(channel: int, n_channels: int, *, name: str) -> None:
    if not 0 <= channel < n_channels:
        raise AudioError(f"{name}: channel={channel} not in [0, {n_channels})")


def to_mono(samples: np.ndarray, *, channel: int | None = None) -> np.ndarray:
    """One channel of ``samples`` (n_channels, n): the mean of all, or ``channel``.

    Returns a C-contiguous float32 array of shape (n,).
    """
    if samples.ndim != 2:
        raise AudioError(f"samples must be (n_channels, n_samples), got shape {samples.shape}")
    if channel is not None:
        _check_channel(channel, samples.shape[0], name="samples")
        return np.ascontiguousarray(samples[channel], dtype=np.float32)
    # Row by row: contiguous additions instead of .mean(axis=0) over strided blocks.
    mono = samples[0].astype(np.float32)
    for row in samples[1:]:
        mono += row
    mono /= np.float32(samples.shape[0])
    return mono


def resample(samples: np.ndarray, *, orig_hz: int, target_hz: int) -> np.ndarray:
    """Resample mono ``samples`` (n,) from ``orig_hz`` to ``target_hz`` (soxr, HQ).

    Returns float32 (n',) with n' ≈ n * target_hz / orig_hz.
    """
    _check_rate("orig_hz", orig_hz)
    _check_rate("target_hz", target_hz)
    if samples.ndim != 1:
        raise AudioError(f"samples must be 1-D (n,), got shape {samples.shape}")
    mono = np.ascontiguousarray(samples, dtype=np.float32)
    if orig_hz == target_hz:
        return mono
    return soxr.resample(mono, orig_hz, target_hz, quality=_RESAMPLE_QUALITY)


def _seekable(source: Source, *, name: str) -> BinaryIO:
    """``source`` as a seekable binary stream; non-empty (AudioError otherwise)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        stream: BinaryIO = io.BytesIO(source)
    elif not hasattr(source, "read"):
        raise AudioError(
            f"{name}: source must be bytes or a binary file object, got {type(source).__name__}")
    elif not source.seekable():
        stream = io.BytesIO(source.read())
    else:
        stream = source
    start = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(start)
    if end <= start:
        raise AudioError(f"{name}: audio is empty (0 bytes)")
    return stream


@contextlib.contextmanager
def _open_sound(source: Source, *, name: str) -> Iterator[sf.SoundFile]:
    """Open ``source`` with soundfile; libsndfile errors (here or while reading in the
    ``with`` body) become AudioError naming ``name`` and the cause."""
    stream = _seekable(source, name=name)
    try:
        with sf.SoundFile(stream) as sound:
            if sound.frames == _UNKNOWN_FRAMES:
                raise AudioError(f"{name}: {sound.format} header gives no length (stream)")
            if sound.frames == 0:
                raise AudioError(f"{name}: {sound.format} file has zero audio frames")
            _check_header(sound, name=name)
            yield sound
    except sf.LibsndfileError as error:
        raise AudioError(f"{name}: cannot decode audio: {error.error_string}") from error


def _check_header(sound: sf.SoundFile, *, name: str) -> None:
    """AudioError when the header's rate, channels or length are beyond what a call can
    have (:data:`RATE_RANGE_HZ`, :data:`MAX_CHANNELS`, :data:`MAX_AUDIO_S`)."""
    low, high = RATE_RANGE_HZ
    if not low <= sound.samplerate <= high:
        raise AudioError(f"{name}: the header's sample rate {sound.samplerate:,} Hz is "
                         f"outside {low:,}-{high:,} Hz")
    if not 1 <= sound.channels <= MAX_CHANNELS:
        raise AudioError(f"{name}: the header's {sound.channels} channels are more than "
                         f"{MAX_CHANNELS}")
    if sound.frames > MAX_AUDIO_S * sound.samplerate:
        raise AudioError(f"{name}: the header gives {sound.frames / sound.samplerate:,.0f} s "
                         f"of audio; at most {MAX_AUDIO_S:,.0f} s are decoded")


def wav_is_truncated(stream: BinaryIO) -> bool:
    """Whether a RIFF/WAVE file ends before its ``data`` chunk's declared size (libsndfile
    reads what is there and says nothing). False for other formats, and for data sizes a
    writer to a pipe leaves unknown. The stream's position is kept."""
    start = stream.tell()
    try:
        stream.seek(0)
        head = stream.read(_WAV_HEADER_SCAN_BYTES)
        total = stream.seek(0, io.SEEK_END)
    finally:
        stream.seek(start)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    position = 12
    while position + 8 <= len(head):
        chunk, size = head[position:position + 4], int.from_bytes(head[position + 4:position + 8],
                                                                  "little")
        if chunk == b"data":
            return size not in _WAV_STREAMED_SIZES and position + 8 + size > total
        position += 8 + size + (size & 1)
    return False


def _blocks(sound: sf.SoundFile, *, name: str) -> Iterator[np.ndarray]:
    """Finite float32 blocks (n_channels, <= _BLOCK_S s) of ``sound``, read in place.

    Each block is a view of one reused buffer: consume it before the next.
    """
    buffer = np.empty((max(1, int(_BLOCK_S * sound.samplerate)), sound.channels), np.float32)
    offset = 0
    while len(block := sound.read(out=buffer)):
        if not np.isfinite(block).all():
            bad = offset + int(np.argmin(np.isfinite(block).all(axis=1)))
            raise AudioError(
                f"{name}: non-finite sample (NaN or Inf) at {bad / sound.samplerate:.3f} s")
        offset += len(block)
        yield block.T


class _Samples:
    """An output buffer of ``capacity`` samples per channel, filled block by block; it grows
    when a file holds more than its header said."""

    def __init__(self, n_channels: int, capacity: int) -> None:
        self._data = np.empty((n_channels, max(1, capacity)), np.float32)
        self._size = 0

    def append(self, block: np.ndarray) -> None:
        """Copy ``block`` (n_channels, k), or (k,) for one channel, after what is held."""
        end = self._size + block.shape[-1]
        if end > self._data.shape[1]:
            grown = np.empty((self._data.shape[0], max(end, 2 * self._data.shape[1])),
                             np.float32)
            grown[:, :self._size] = self._data[:, :self._size]
            self._data = grown
        self._data[:, self._size:end] = block
        self._size = end

    def view(self, *, name: str) -> np.ndarray:
        """The filled part, (n_channels, size); AudioError when nothing was decoded."""
        if self._size == 0:
            raise AudioError(f"{name}: decoded no samples")
        return self._data[:, :self._size]


def _decode_open(sound: sf.SoundFile, *, name: str, channel: int | None,
                 target_hz: int | None) -> Waveform:
    """Stream ``sound`` into a Waveform; see :func:`decode_audio`."""
    if target_hz is not None:
        _check_rate("target_hz", target_hz)
    native_hz = sound.samplerate
    if channel is None and target_hz is None:
        output = _Samples(sound.channels, sound.frames)
        for block in _blocks(sound, name=name):
            output.append(block)
        return Waveform(output.view(name=name), native_hz)
    if channel is not None:
        _check_channel(channel, sound.channels, name=name)
    out_hz = native_hz if target_hz is None else target_hz
    # soxr emits round(n_in * out_hz / native_hz) samples in total; +1 covers the rounding.
    output = _Samples(1, sound.frames * out_hz // native_hz + 1)
    stream = None if out_hz == native_hz else soxr.ResampleStream(
        native_hz, out_hz, 1, dtype="float32", quality=_RESAMPLE_QUALITY)
    for block in _blocks(sound, name=name):
        mono = to_mono(block, channel=channel)
        output.append(mono if stream is None else stream.resample_chunk(mono))
    if stream is not None:
        output.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return Waveform(output.view(name=name), out_hz)


def decode_audio(source: Source, *, name: str = "<bytes>", channel: int | None = None,
                 target_hz: int | None = None) -> Waveform:
    """Decode WAV (PCM 8/16/24/32, float, μ-law, A-law), FLAC or OGG from bytes or a file.

    ``source``: the encoded bytes or a binary file object (read into memory when it is
    not seekable). With neither ``channel`` nor ``target_hz`` the result holds every
    channel at the native rate, (n_channels, n). Otherwise it is mono, (1, n'): channel
    ``channel`` (0-based) or the mean of all channels, resampled to ``target_hz`` Hz when
    given. Decoding streams blocks of ~4 s, so memory holds only the output.

    Raises AudioError (naming ``name``) for empty, unrecognised, truncated or zero-frame
    audio, NaN/Inf samples and a channel the file lacks; ConfigError for target_hz <= 0.
    """
    with _open_sound(source, name=name) as sound:
        return _decode_open(sound, name=name, channel=channel, target_hz=target_hz)


def window_count(n_samples: int, *, window_samples: int, hop_samples: int) -> int:
    """Windows of ``window_samples`` every ``hop_samples`` covering ``n_samples``.

    A signal shorter than a window gives 1 (zero-padded) window; otherwise
    1 + ceil((n_samples - window_samples) / hop_samples), keeping the last partial window.
    Requires 0 < hop_samples <= window_samples so that every window starts inside the
    signal.
    """
    if window_samples <= 0:
        raise ConfigError(f"window_samples={window_samples} must be > 0")
    if not 0 < hop_samples <= window_samples:
        raise ConfigError(
            f"hop_samples={hop_samples} must be in (0, window_samples={window_samples}]")
    if n_samples <= 0:
        raise AudioError(f"n_samples={n_samples}: no audio to window")
    return 1 + max(0, -(-(n_samples - window_samples) // hop_samples))


def frame_windows(samples: np.ndarray, *, window_samples: int,
                  hop_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut mono ``samples`` (n,) into windows, zero-padding the last one.

    Returns (windows float32 (n_windows, window_samples), starts int64 (n_windows,) in
    samples), with n_windows = :func:`window_count`.
    """
    if samples.ndim != 1:
        raise AudioError(f"samples must be 1-D (n,), got shape {samples.shape}")
    n_windows = window_count(samples.size, window_samples=window_samples,
                             hop_samples=hop_samples)
    starts = np.arange(n_windows, dtype=np.int64) * hop_samples
    windows = np.zeros((n_windows, window_samples), np.float32)
    for row, start in zip(windows, starts):
        piece = samples[start:start + window_samples]
        row[:piece.size] = piece
    return windows, starts


@dataclasses.dataclass(frozen=True, eq=False)
class _MelBand:
    """Consecutive mel filters and the only FFT bins they weigh.

    ``weights``: float32 ``(bins.stop - bins.start, filters.stop - filters.start)``, the
    Slaney filterbank's entries for those bins and filters (read-only).
    """

    bins: slice
    filters: slice
    weights: np.ndarray


@functools.lru_cache(maxsize=8)
def _mel_bands(config: FeatureConfig) -> tuple[_MelBand, ...]:
    """The Slaney mel filterbank as blocks of :data:`_MEL_BAND_FILTERS` filters, each with
    the contiguous run of FFT bins its filters weigh (an empty run for all-zero filters).

    A mel filter is a triangle over a few neighbouring bins: at the default config the 128
    filters weigh 1,007 of the 65,664 (bin, filter) pairs. Projecting each block onto its
    own bins gives the dense product's sums (up to float32 rounding) with far fewer
    multiplications.
    """
    basis = librosa.filters.mel(sr=config.sample_rate_hz, n_fft=config.n_fft,
                                n_mels=config.n_mels, fmin=config.fmin_hz,
                                fmax=config.fmax_hz, dtype=np.float32).T  # (bins, filters)
    bands = []
    for first in range(0, config.n_mels, _MEL_BAND_FILTERS):
        filters = slice(first, min(first + _MEL_BAND_FILTERS, config.n_mels))
        used = np.flatnonzero(basis[:, filters].any(axis=1))
        bins = slice(int(used[0]), int(used[-1]) + 1) if used.size else slice(0, 0)
        weights = np.ascontiguousarray(basis[bins, filters])
        weights.setflags(write=False)
        bands.append(_MelBand(bins=bins, filters=filters, weights=weights))
    return tuple(bands)


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (the STFT kind, as librosa's ``'hann'``): float32 (n_fft,)."""
    window = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)
    window.setflags(write=False)
    return window


def _power_spectrogram(windows: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """Power STFT of each window, time-major: float32 (n_windows, n_frames, 1 + n_fft // 2).

    Each window is centred with ``n_fft // 2`` zeros on both sides, cut into frames of
    ``n_fft`` samples every ``hop_length``, Hann-weighted and transformed in float32
    (``scipy.fft.rfft``). Same frames and window as ``librosa.stft(center=True,
    pad_mode="constant")``, without its float64 framing buffers.
    """
    pad = config.n_fft // 2
    padded = np.zeros((windows.shape[0], windows.shape[1] + 2 * pad), np.float32)
    padded[:, pad:pad + windows.shape[1]] = windows
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft, axis=1)
    spectrum = scipy.fft.rfft(frames[:, ::config.hop_length] * _hann(config.n_fft), axis=-1)
    return np.square(spectrum.real) + np.square(spectrum.imag)


def log_mel(windows: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """Log-mel spectrograms of ``windows`` (n_windows, config.window_samples).

    Power STFT (periodic Hann, ``n_fft``, ``hop_length``, centred with zero padding) →
    Slaney mel filterbank (``n_mels`` bands, ``fmin_hz``..``fmax_hz``) →
    10*log10(max(S, 1e-10)), floored at ``floor_db``. Returns float32
    (n_windows, n_mels, n_frames) in dB; each window's values do not depend on the others.
    """
    if windows.ndim != 2 or windows.shape[0] == 0 or windows.shape[1] != config.window_samples:
        raise AudioError(
            f"windows must be (n_windows >= 1, window_samples={config.window_samples}), "
            f"got shape {windows.shape}")
    power = _power_spectrogram(np.asarray(windows, np.float32), config=config)
    mel = np.empty(power.shape[:-1] + (config.n_mels,), np.float32)  # (n_windows, n_frames, n_mels)
    for band in _mel_bands(config):
        np.matmul(power[..., band.bins], band.weights, out=mel[..., band.filters])
    np.maximum(mel, _POWER_FLOOR, out=mel)
    np.log10(mel, out=mel)
    mel *= 10.0
    np.maximum(mel, config.floor_db, out=mel)
    return np.ascontiguousarray(mel.transpose(0, 2, 1))


def mfcc_from_log_mel(log_mel: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """MFCCs from ``log_mel`` (n_windows, n_mels, n_frames) dB, as librosa.feature.mfcc(S=…).

    DCT-II (orthonormal) over the mel axis, first ``config.n_mfcc`` coefficients.
    Returns float32 (n_windows, n_frames, n_mfcc), time-major for a sequence model.
    """
    expected = (config.n_mels, config.n_frames)
    if log_mel.ndim != 3 or log_mel.shape[1:] != expected:
        raise AudioError(
            f"log_mel must be (n_windows, n_mels, n_frames)=(…, {expected[0]}, {expected[1]}), "
            f"got shape {log_mel.shape}")
    if config.n_mfcc > config.n_mels:
        raise ConfigError(f"n_mfcc={config.n_mfcc} must be <= n_mels={config.n_mels}")
    coefficients = scipy.fft.dct(log_mel, type=2, axis=1, norm="ortho")[:, :config.n_mfcc]
    return np.ascontiguousarray(coefficients.transpose(0, 2, 1), dtype=np.float32)


def audio_features(source: Source, *, config: FeatureConfig,
                   name: str = "<bytes>") -> AudioFeatures:
    """Decode ``source`` to mono at ``config.sample_rate_hz``, window it, take log-mel and
    pick the speech detector's probes (:func:`transforms.speech.speech_probes`).

    Windows are ``config.window_samples`` long every ``config.hop_samples``; log-mel is
    computed a few windows at a time, so memory holds the decoded mono signal and the
    result. Raises AudioError as :func:`decode_audio`, and for less than
    :data:`MIN_AUDIO_S` of audio; a WAV file that ends before its header says is decoded
    as far as it goes and warned :data:`TRUNCATED`.
    """
    stream = _seekable(source, name=name)
    warnings = (TRUNCATED,) if wav_is_truncated(stream) else ()
    with _open_sound(stream, name=name) as sound:
        native_hz, n_channels = sound.samplerate, sound.channels
        waveform = _decode_open(sound, name=name, channel=None,
                                target_hz=config.sample_rate_hz)
    if waveform.duration_s < MIN_AUDIO_S:
        raise AudioError(f"{name}: {waveform.duration_s:.3f} s of audio; at least "
                         f"{MIN_AUDIO_S} s is needed")
    samples = waveform.samples[0]
    window, hop = config.window_samples, config.hop_samples
    n_windows = window_count(samples.size, window_samples=window, hop_samples=hop)
    features = np.empty((n_windows, config.n_mels, config.n_frames), np.float32)
    starts = np.empty(n_windows, np.int64)
    for first in range(0, n_windows, _LOGMEL_CHUNK_WINDOWS):
        last = min(first + _LOGMEL_CHUNK_WINDOWS, n_windows)
        offset = first * hop
        chunk, chunk_starts = frame_windows(
            samples[offset:(last - 1) * hop + window], window_samples=window, hop_samples=hop)
        features[first:last] = log_mel(chunk, config=config)
        starts[first:last] = chunk_starts + offset
    return AudioFeatures(
        log_mel=features,
        window_starts_s=(starts / config.sample_rate_hz).astype(np.float32),
        duration_s=waveform.duration_s,
        sample_rate_hz=native_hz,
        n_channels=n_channels,
        speech=speech_probes(samples, sample_rate_hz=config.sample_rate_hz),
        warnings=warnings,
    )


def encode_audio(samples: np.ndarray, *, sample_rate_hz: int, fmt: str = "WAV",
                 subtype: str = "PCM_16") -> bytes:
    """Encode ``samples`` (n,) or (n_channels, n), finite and within [-1, 1], with soundfile.

    ``fmt``/``subtype`` as soundfile names them, e.g. WAV with PCM_U8, PCM_16, PCM_24,
    PCM_32, FLOAT, ULAW or ALAW; FLAC with PCM_16; OGG with VORBIS. Returns the file bytes.
    Raises ConfigError for an unknown format, subtype or rate; AudioError for bad samples.
    """
    fmt, subtype = fmt.upper(), subtype.upper()
    if fmt not in sf.available_formats():
        raise ConfigError(f"fmt={fmt!r} is not one of {sorted(sf.available_formats())}")
    if not sf.check_format(fmt, subtype):
        raise ConfigError(
            f"subtype={subtype!r} is not valid for fmt={fmt!r}; "
            f"choose from {sorted(sf.available_subtypes(fmt))}")
    _check_rate("sample_rate_hz", sample_rate_hz)
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim not in (1, 2):
        raise AudioError(f"samples must be (n,) or (n_channels, n), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise AudioError("samples contain NaN or Inf")
    peak = float(np.abs(array).max(initial=0.0))
    if peak > 1.0:
        raise AudioError(f"peak |sample|={peak} exceeds 1.0 and would clip")
    buffer = io.BytesIO()
    frames = np.ascontiguousarray(array.T)
    channels = 1 if array.ndim == 1 else array.shape[0]
    try:
        # Block by block: one write of more than ~2 M frames overflows the C stack in
        # libsndfile's Vorbis encoder (segfault on a 2-minute 32 kHz OGG).
        with sf.SoundFile(buffer, "w", sample_rate_hz, channels, format=fmt,
                          subtype=subtype) as sound:
            for start in range(0, len(frames), _ENCODE_BLOCK_FRAMES):
                sound.write(frames[start:start + _ENCODE_BLOCK_FRAMES])
    except sf.LibsndfileError as error:
        raise ConfigError(
            f"cannot encode {fmt}/{subtype} at sample_rate_hz={sample_rate_hz}: "
            f"{error.error_string}") from error
    return buffer.getvalue()
