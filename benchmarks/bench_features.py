"""Benchmark: 7-s log-mel windows per second per core, our feature path vs the seed's.

Writes ~60 s of speech-like call audio (8 kHz μ-law mono, 16 kHz PCM mono, 48 kHz PCM
stereo) to a temporary folder, then times in the same run, pinned to one core and one
thread:

(a) ``transforms.audio.audio_features``: streaming decode, mono mix, soxr resample to
    16 kHz, 7-s windows, log-mel (the project's FeatureConfig);
(b) the seed's way: ``librosa.load(path)`` with defaults (mono, 22.05 kHz) then
    ``librosa.feature.melspectrogram`` + ``librosa.power_to_db`` per 7-s window.

Both count windows the same way (7-s windows every 7 s, last partial one kept).
Run: ``.venv/bin/python benchmarks/bench_features.py [--min-seconds 3]``.
"""

from __future__ import annotations

import os

# Pin BLAS/OpenMP pools to one thread before numpy is imported.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from transforms import audio  # noqa: E402
from transforms.spec import DEFAULT_FEATURES  # noqa: E402

#: (file name, rate Hz, channels, seconds, soundfile subtype): ~60 s of audio in all.
CORPUS = (
    ("phone_8k_ulaw.wav", 8_000, 1, 20.0, "ULAW"),
    ("wideband_16k_pcm.wav", 16_000, 1, 20.0, "PCM_16"),
    ("studio_48k_stereo.wav", 48_000, 2, 20.0, "PCM_16"),
)
WINDOW_S = 7.0


def speech_like(*, seconds: float, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """Voiced syllables (gliding f0 90–260 Hz, harmonics under formant-like peaks,
    ~4 syllables/s with pauses) over background noise. Returns float32 (n,) in [-1, 1]."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    f0 = 150 + 60 * np.sin(2 * np.pi * 0.3 * t) + 30 * np.sin(2 * np.pi * 2.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate_hz
    voice = np.zeros(n)
    for harmonic in range(1, 30):
        freq = harmonic * f0
        weight = sum(np.exp(-((freq - formant) / 150) ** 2) for formant in (500, 1_500, 2_500))
        voice += np.where(freq < rate_hz / 2, weight / harmonic, 0) * np.sin(harmonic * phase)
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    pauses = (np.sin(2 * np.pi * 0.23 * t + rng.uniform(0, 6)) > -0.6).astype(float)
    noise = np.cumsum(rng.standard_normal(n))  # brown-ish hum and room noise
    noise = (noise - np.convolve(noise, np.ones(256) / 256, mode="same")) * 0.002
    signal = voice * syllables * pauses + noise
    return (0.7 * signal / np.max(np.abs(signal))).astype(np.float32)


def write_corpus(folder: pathlib.Path) -> list[pathlib.Path]:
    rng = np.random.default_rng(2024)
    paths = []
    for file_name, rate, channels, seconds, subtype in CORPUS:
        samples = np.stack([speech_like(seconds=seconds, rate_hz=rate, rng=rng)
                            for _ in range(channels)])
        path = folder / file_name
        path.write_bytes(audio.encode_audio(samples, sample_rate_hz=rate, subtype=subtype))
        paths.append(path)
    return paths


def ours(path: pathlib.Path) -> int:
    """Windows made by the project's path for one file."""
    with open(path, "rb") as file:
        features = audio.audio_features(file, config=DEFAULT_FEATURES, name=path.name)
    return features.log_mel.shape[0]


def seed(path: pathlib.Path) -> int:
    """Windows made the seed's way for one file: librosa defaults throughout."""
    samples, rate = librosa.load(path)
    window = int(WINDOW_S * rate)
    n_windows = audio.window_count(samples.size, window_samples=window, hop_samples=window)
    for start in range(0, n_windows * window, window):
        piece = samples[start:start + window]
        piece = np.pad(piece, (0, window - piece.size))
        librosa.power_to_db(librosa.feature.melspectrogram(y=piece, sr=rate), ref=np.max)
    return n_windows


def measure(method: Callable[[pathlib.Path], int], paths: list[pathlib.Path], *,
            min_seconds: float) -> tuple[int, float, float]:
    """Repeat passes over ``paths`` for at least ``min_seconds``.

    Returns (windows, wall seconds, CPU seconds) summed over the passes.
    """
    for path in paths:  # warm-up: imports, caches, first-call compilation
        method(path)
    windows, wall_start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall_start < min_seconds:
        windows += sum(method(path) for path in paths)
    return windows, time.perf_counter() - wall_start, time.process_time() - cpu_start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-seconds", type=float, default=3.0,
                        help="time each method for at least this long (default 3)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as folder:
        paths = write_corpus(pathlib.Path(folder))
        audio_s = sum(seconds for *_, seconds, _ in CORPUS)
        print(f"corpus: {len(paths)} files, {audio_s:.0f} s of audio "
              f"({', '.join(p.name for p in paths)}); 1 core, 1 thread")
        results = {
            "ours: audio_features (16 kHz, 128x300 log-mel)": measure(
                ours, paths, min_seconds=args.min_seconds),
            "seed: librosa.load + melspectrogram (22.05 kHz)": measure(
                seed, paths, min_seconds=args.min_seconds),
        }
    # CPU seconds are the fair "per core" measure when other work shares the core.
    print(f"{'path':<50} {'windows':>8} {'wall s':>7} {'cpu s':>7} {'win/s wall':>11} "
          f"{'win/cpu-s':>10}")
    rates = []
    for label, (windows, wall, cpu) in results.items():
        rates.append((windows / wall, windows / cpu))
        print(f"{label:<50} {windows:>8} {wall:>7.2f} {cpu:>7.2f} {rates[-1][0]:>11.1f} "
              f"{rates[-1][1]:>10.1f}")
    (ours_wall, ours_cpu), (seed_wall, seed_cpu) = rates
    print(f"ratio ours/seed: {ours_cpu / seed_cpu:.2f}x per CPU second "
          f"({ours_wall / seed_wall:.2f}x wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
