"""How much of a call is speech: Silero VAD (an ONNX model trained on real speech) run on
onnxruntime over a sample of the call's audible audio.

The model (``transforms/data/silero_vad.onnx``, Silero VAD v6, MIT licence in
``silero_vad.LICENSE`` beside it) reads 8 kHz audio in chunks of :data:`CHUNK` samples
(32 ms), each preceded by the last :data:`CONTEXT` samples of the one before, carries a
recurrent state from chunk to chunk and gives each chunk a speech probability.

Reading every chunk would cost more CPU than the rest of the job, so the model reads probes
of :data:`BLOCK_S` seconds, batched across calls (``make bench`` measures the cost):

1. :func:`speech_probes` (feature step, per call, cheap): the mono signal is cut into
   blocks of :data:`BLOCK_S`; a block is *audible* when its RMS is above
   :data:`AUDIBLE_DBFS`. Digital silence and a dead line end here. It keeps, at 8 kHz, one
   audible block in :data:`PROBE_STRIDE` (evenly spaced) and the loudest audible block (the
   first round), then up to :data:`MAX_RESERVE` more audible blocks (the second round).
2. :func:`measure_speech` (serving, per batch of calls): the model reads every call's
   first round side by side; the calls in which it heard no speech get their second round,
   again side by side. A call is silent only if neither round heard speech.
3. ``speech_s`` = the speech share of the evenly spaced probes × the audible seconds, when
   they hold at least :data:`MIN_SPEECH_S` of speech; otherwise the speech the model heard
   in all the probes it read (so stray chunks are not multiplied up).

A chunk is speech when its probability is at least :data:`SPEECH_PROBABILITY`.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import threading
from typing import Sequence

import numpy as np
import soxr

from transforms.errors import AudioError

VAD_HZ = 8_000
CHUNK = 256  # samples of one model step at 8 kHz (32 ms)
CONTEXT = 32  # samples of the previous chunk the model reads before each chunk
STATE_SHAPE = (2, 128)  # the recurrent state per stream: (2, batch, 128)
BLOCK_S = 0.512  # length of one probed block (s): 16 model steps
AUDIBLE_DBFS = -55.0  # a block quieter than this (RMS, dB re full scale) is silence
PROBE_STRIDE = 8  # the first round reads one audible block in this many (evenly spaced)
MAX_RESERVE = 24  # audible blocks the second round may read
SPEECH_PROBABILITY = 0.8  # above what hold music reaches (the probes of test_speech.py)
PROBE_SAMPLES = int(BLOCK_S * VAD_HZ) // CHUNK * CHUNK  # one probe at 8 kHz
#: Less speech than this (s) is none: a call without it and without words is silent.
MIN_SPEECH_S = 0.1
_MIN_CHUNKS = math.ceil(MIN_SPEECH_S * VAD_HZ / CHUNK)  # MIN_SPEECH_S in model chunks
_MODEL_RESOURCE = "data/silero_vad.onnx"
_RESAMPLE_QUALITY = "HQ"  # soxr quality of the probes' 8 kHz copies


@dataclasses.dataclass(frozen=True, eq=False)
class SpeechProbes:
    """What the model will read of one call: ``probes`` float32 ``(k, PROBE_SAMPLES)`` at
    8 kHz, the first ``n_spaced`` rows the evenly spaced blocks, the first ``n_first``
    rows the first round (the spaced blocks and the loudest one), the rest the second
    round; ``audible_s`` seconds of the call are audible."""

    probes: np.ndarray
    n_spaced: int
    n_first: int
    audible_s: float


class SpeechDetector:
    """The Silero VAD model on onnxruntime, one thread per run; safe to share between
    threads (onnxruntime sessions run concurrently). Create it once per process:
    :func:`speech_detector`."""

    def __init__(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        model = importlib.resources.files("transforms").joinpath(_MODEL_RESOURCE).read_bytes()
        self._session = onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"])
        self._rate = np.array(VAD_HZ, dtype=np.int64)

    def chunk_probabilities(self, streams: np.ndarray) -> np.ndarray:
        """Speech probability of every chunk of ``streams``: float32 ``(n_streams,
        n_samples)`` at 8 kHz, ``n_samples`` a multiple of :data:`CHUNK`, each stream read
        from a fresh state. Returns float32 ``(n_streams, n_samples // CHUNK)``."""
        if streams.ndim != 2 or streams.shape[1] % CHUNK or streams.shape[1] == 0:
            raise AudioError(f"streams must be (n, k * {CHUNK}) with k >= 1, "
                             f"got shape {streams.shape}")
        n_streams, n_chunks = streams.shape[0], streams.shape[1] // CHUNK
        chunks = np.ascontiguousarray(streams, dtype=np.float32).reshape(
            n_streams, n_chunks, CHUNK)
        state = np.zeros((STATE_SHAPE[0], n_streams, STATE_SHAPE[1]), np.float32)
        step = np.zeros((n_streams, CONTEXT + CHUNK), np.float32)
        probabilities = np.empty((n_streams, n_chunks), np.float32)
        for index in range(n_chunks):
            step[:, :CONTEXT] = step[:, -CONTEXT:]
            step[:, CONTEXT:] = chunks[:, index]
            output, state = self._session.run(
                None, {"input": step, "state": state, "sr": self._rate})
            probabilities[:, index] = output[:, 0]
        return probabilities


_DETECTOR_LOCK = threading.Lock()
_detector: SpeechDetector | None = None


def speech_detector() -> SpeechDetector:
    """This process's :class:`SpeechDetector` (loaded on first use, once)."""
    global _detector
    with _DETECTOR_LOCK:
        if _detector is None:
            _detector = SpeechDetector()
        return _detector


def _block_levels_dbfs(samples: np.ndarray, *, block: int) -> np.ndarray:
    """RMS level of each ``block``-sample block of ``samples`` (the last one may be
    shorter), dB re full scale: float64 ``(ceil(n / block),)``."""
    n_full = samples.size // block
    squares = np.square(samples)
    power = squares[:n_full * block].reshape(n_full, block).mean(axis=1, dtype=np.float64)
    if samples.size > n_full * block:
        power = np.append(power, squares[n_full * block:].mean(dtype=np.float64))
    return 10 * np.log10(np.maximum(power, 1e-20))


def _choose_blocks(levels_dbfs: np.ndarray) -> tuple[list[int], int, int]:
    """Block indices the probes read: the evenly spaced audible blocks, then the loudest
    audible block when it is not among them (together the first round), then up to
    :data:`MAX_RESERVE` of the other audible blocks, evenly spread (the second round).
    Returns ``(indices, n_spaced, n_first)``; nothing audible gives ``([], 0, 0)``."""
    audible = np.flatnonzero(levels_dbfs > AUDIBLE_DBFS)
    if audible.size == 0:
        return [], 0, 0
    n_spaced = math.ceil(audible.size / PROBE_STRIDE)
    positions = np.unique(np.round(np.linspace(0, audible.size - 1, n_spaced + 2)[1:-1]))
    spaced = [int(audible[int(position)]) for position in positions]
    loudest = int(audible[np.argmax(levels_dbfs[audible])])
    first = spaced + ([] if loudest in spaced else [loudest])
    rest = np.array([index for index in audible if index not in first], dtype=np.int64)
    if rest.size > MAX_RESERVE:
        rest = rest[np.round(np.linspace(0, rest.size - 1, MAX_RESERVE)).astype(np.int64)]
    return first + [int(index) for index in rest], len(spaced), len(first)


def speech_probes(samples: np.ndarray, *, sample_rate_hz: int) -> SpeechProbes:
    """The probes of mono ``samples`` (n,) at ``sample_rate_hz``; see the module
    docstring."""
    if samples.ndim != 1:
        raise AudioError(f"samples must be 1-D (n,), got shape {samples.shape}")
    if sample_rate_hz < VAD_HZ:
        raise AudioError(f"sample_rate_hz={sample_rate_hz} must be >= {VAD_HZ}")
    block = int(BLOCK_S * sample_rate_hz)
    levels = _block_levels_dbfs(samples, block=block) if samples.size else np.zeros(0)
    indices, n_spaced, n_first = _choose_blocks(levels)
    lengths = np.minimum(block, samples.size - np.arange(levels.size) * block)
    audible_s = float(lengths[levels > AUDIBLE_DBFS].sum()) / sample_rate_hz
    probes = np.zeros((len(indices), PROBE_SAMPLES), np.float32)
    for row, index in enumerate(indices):
        piece = np.ascontiguousarray(samples[index * block:(index + 1) * block], np.float32)
        narrow = soxr.resample(piece, sample_rate_hz, VAD_HZ, quality=_RESAMPLE_QUALITY)
        probes[row, :min(PROBE_SAMPLES, narrow.size)] = narrow[:PROBE_SAMPLES]
    return SpeechProbes(probes=probes, n_spaced=n_spaced, n_first=n_first,
                        audible_s=round(audible_s, 3))


def _speech_chunks(detector: SpeechDetector, probes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each call's probes → bool ``(k, chunks per probe)``: which chunks are speech, the
    model reading all calls' probes side by side in one batch."""
    sizes = [len(rows) for rows in probes]
    if not sum(sizes):
        return [np.zeros((0, PROBE_SAMPLES // CHUNK), bool) for _ in probes]
    speech = detector.chunk_probabilities(np.concatenate(probes)) >= SPEECH_PROBABILITY
    return np.split(speech, np.cumsum(sizes)[:-1])


def measure_speech(calls: Sequence[SpeechProbes], *, detector: SpeechDetector
                   ) -> list[float]:
    """Estimated seconds of speech in each call (see the module docstring), the model
    reading the first round of every call in one batch, then the second round of the
    calls where it heard less than :data:`MIN_SPEECH_S`. The spaced probes' share is
    extrapolated only when they hold that much speech; a few stray chunks (music, a
    tone's onset) count as what they are."""
    first = _speech_chunks(detector, [call.probes[:call.n_first] for call in calls])
    unheard = [index for index, chunks in enumerate(first) if chunks.sum() < _MIN_CHUNKS]
    second = dict(zip(unheard, _speech_chunks(
        detector, [calls[index].probes[calls[index].n_first:] for index in unheard])))
    measured = []
    for index, call in enumerate(calls):
        spaced = first[index][:call.n_spaced]
        if spaced.sum() >= _MIN_CHUNKS:
            speech_s = float(spaced.mean()) * call.audible_s
        else:
            heard = first[index].sum() + second.get(index, np.zeros(0, bool)).sum()
            speech_s = float(heard) * CHUNK / VAD_HZ
        measured.append(round(min(speech_s, call.audible_s), 2))
    return measured
