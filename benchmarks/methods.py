"""The three measured methods, each run alone in a child process of ``bench_pipeline.py``.

- ``pipeline``: the nightly job (``pipelines.triage.run``) on the DirectRunner;
- ``naive``: the seed's plain loop (librosa defaults, one ``model.predict`` per call);
- ``ceiling``: features on in-memory bytes and the model in large batches, no Beam, no I/O.

Each takes the parsed command line and returns its result as a JSON-able dict, which the
child writes with :func:`write_result` for the parent to read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from typing import TYPE_CHECKING, Any

from benchmarks.archives import manifest_rows
from benchmarks.sampling import cpu_seconds, rss_now_mb

if TYPE_CHECKING:  # the children import NumPy lazily, after the parent's start-up
    import numpy as np

RUN_DATE = "2026-01-01"


def write_result(path: str, result: dict[str, Any]) -> None:
    """Write a child's result where the parent reads it (``--child-result``)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)


def child_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    """The nightly job, in this process (DirectRunner), timed around ``run``."""
    import logging

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "tensorflow", "absl", "jax"):  # as the CLI does
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from models import DEFAULT_BUNDLE
    from pipelines import reports, triage
    from transforms.audio import window_count
    from transforms.spec import DEFAULT_FEATURES as config

    base_rss = rss_now_mb()
    argv = [f"--archive={args.archive}", f"--out={args.reports}",
            f"--model={DEFAULT_BUNDLE}", f"--run_date={RUN_DATE}",
            f"--inference_precision={args.precision}"]
    if args.workers:
        argv += [f"--direct_num_workers={args.workers}",
                 f"--direct_running_mode={args.running_mode}"]
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    summary = triage.run(argv, environ={}, today=dt.date.fromisoformat(RUN_DATE))
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    calls = reports.read_report(args.reports, reports.CALLS, RUN_DATE, columns=["duration_s"])
    durations = calls["duration_s"].to_pylist()
    windows = sum(window_count(int(round(d * config.sample_rate_hz)),
                               window_samples=config.window_samples,
                               hop_samples=config.hop_samples) for d in durations)
    return {"argv": argv, "wall_s": wall, "cpu_s": cpu, "calls": len(durations),
            "windows_by_precision": summary["model"]["windows_by_precision"],
            "windows": windows, "audio_s": sum(durations), "base_rss_mb": base_rss,
            "errors": summary["counts"]["errors"], "counts": summary["counts"],
            "timings": summary["timings"]}


def fit_frames(log_mel: np.ndarray, n_frames: int) -> np.ndarray:
    """Crop (drop the last frames) or pad (with the minimum dB) a (n_mels, t) log-mel to
    (n_mels, n_frames)."""
    import numpy as np

    if log_mel.shape[1] >= n_frames:
        return log_mel[:, :n_frames]
    pad = n_frames - log_mel.shape[1]
    return np.pad(log_mel, ((0, 0), (0, pad)), constant_values=log_mel.min())


def child_naive(args: argparse.Namespace) -> dict[str, Any]:
    """The seed's loop: librosa defaults, per-window melspectrogram, predict per call."""
    import librosa
    import numpy as np

    from models.bundle import load_bundle
    from models import DEFAULT_BUNDLE
    from transforms.audio import window_count
    from transforms.lexicon import lexicon_features
    from transforms.text import OktTokenizer

    rows = manifest_rows(args.archive)
    base_rss = rss_now_mb()
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    bundle = load_bundle(os.path.normpath(DEFAULT_BUNDLE))
    model, vocab, text_length = bundle.model, bundle.vocabulary, bundle.config.text_length
    tokenizer = OktTokenizer.for_config(bundle.config)
    load_s = time.perf_counter() - wall0
    stages = {"load": 0.0, "mel": 0.0, "tokenise": 0.0, "predict": 0.0}
    windows, audio_s, calls, errors, frames_seen = 0, 0.0, 0, [], set()
    for row in rows:
        try:
            t0 = time.perf_counter()
            samples, rate = librosa.load(os.path.join(args.archive, row["audio"]))
            t1 = time.perf_counter()
            window = int(bundle.config.window_s * rate)
            n_windows = window_count(samples.size, window_samples=window, hop_samples=window)
            mels = []
            for start in range(0, n_windows * window, window):
                piece = samples[start:start + window]
                piece = np.pad(piece, (0, window - piece.size))
                db = librosa.power_to_db(librosa.feature.melspectrogram(y=piece, sr=rate),
                                         ref=np.max)
                frames_seen.add(db.shape[1])
                mels.append(fit_frames(db, bundle.config.n_frames))
            t2 = time.perf_counter()
            text = row.get("transcript") or ""
            tokens = tokenizer.tokenize(text) if text.strip() else []
            ids = vocab.encode(tokens, length=text_length)
            t3 = time.perf_counter()
            model.predict({"logmel": np.stack(mels)[..., np.newaxis],
                           "tokens": np.tile(ids, (n_windows, 1)),
                           "lexicon": np.tile(lexicon_features(tokens), (n_windows, 1))},
                          verbose=0)
            t4 = time.perf_counter()
        except Exception as error:  # noqa: BLE001 - a benchmark counts failures, no more
            errors.append(f"{row['call_id']}: {type(error).__name__}: {error}")
            continue
        stages["load"] += t1 - t0
        stages["mel"] += t2 - t1
        stages["tokenise"] += t3 - t2
        stages["predict"] += t4 - t3
        calls += 1
        windows += n_windows
        audio_s += samples.size / rate
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "calls": calls, "windows": windows,
            "audio_s": audio_s, "base_rss_mb": base_rss, "errors": len(errors),
            "error_examples": errors[:3], "model_load_s": load_s,
            "stages_s": stages, "frames_per_window": sorted(frames_seen),
            "model_frames": bundle.config.n_frames}


def child_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    """Features on in-memory bytes + the model in large batches, one tight loop."""
    import numpy as np

    from models.bundle import load_bundle
    from models.serving import predict_windows, with_precision
    from models.precision import native_bfloat16, resolve_precision
    from models import DEFAULT_BUNDLE
    from transforms.audio import audio_features
    from transforms.lexicon import lexicon_features
    from transforms.spec import LEXICON_INPUT, LOGMEL_INPUT, MODEL_INPUTS, TOKENS_INPUT
    from transforms.text import OktTokenizer
    from transforms.worker import reuse_freed_memory

    reuse_freed_memory()
    rows = manifest_rows(args.archive)
    base_rss = rss_now_mb()
    bundle = load_bundle(os.path.normpath(DEFAULT_BUNDLE))
    precision, _ = resolve_precision(args.precision, metadata=bundle.metadata,
                                     native=native_bfloat16())
    bundle = with_precision(bundle, precision)
    config, vocab, batch = bundle.config, bundle.vocabulary, args.batch_size
    tokenizer = OktTokenizer.for_config(config)
    tokenizer.tokenize("불이 났어요")  # start the JVM (not timed)
    predict_windows(bundle, {  # build the predict function (not timed)
        name: np.zeros((batch,) + MODEL_INPUTS[name].shape(config), MODEL_INPUTS[name].dtype)
        for name in bundle.input_names}, batch_size=batch)
    warm_rss = rss_now_mb()
    calls_in = []
    for row in rows:  # all I/O before the clock starts
        with open(os.path.join(args.archive, row["audio"]), "rb") as handle:
            calls_in.append((handle.read(), row.get("transcript") or ""))
    loaded_rss = rss_now_mb()
    stages = {"features": 0.0, "tokenise": 0.0, "predict": 0.0}
    pending_mel: list[np.ndarray] = []
    pending_ids: list[np.ndarray] = []
    pending_lexicon: list[np.ndarray] = []
    windows, audio_s, batches = 0, 0.0, 0

    def flush(final: bool) -> None:
        nonlocal pending_mel, pending_ids, pending_lexicon, batches
        mel, ids = np.concatenate(pending_mel), np.concatenate(pending_ids)
        groups = np.concatenate(pending_lexicon)
        full = len(mel) if final else len(mel) // batch * batch
        t0 = time.perf_counter()
        predict_windows(bundle, {LOGMEL_INPUT: mel[:full, ..., np.newaxis],
                                 TOKENS_INPUT: ids[:full], LEXICON_INPUT: groups[:full]},
                        batch_size=batch)
        stages["predict"] += time.perf_counter() - t0
        batches += -(-full // batch)
        pending_mel, pending_ids = [mel[full:]], [ids[full:]]
        pending_lexicon = [groups[full:]]

    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    for data, text in calls_in:
        t0 = time.perf_counter()
        features = audio_features(data, config=config)
        t1 = time.perf_counter()
        tokens = tokenizer.tokenize(text) if text.strip() else []
        ids = vocab.encode(tokens, length=config.text_length)
        groups = lexicon_features(tokens)
        stages["features"] += t1 - t0
        stages["tokenise"] += time.perf_counter() - t1
        n_windows = features.log_mel.shape[0]
        pending_mel.append(features.log_mel)
        pending_ids.append(np.tile(ids, (n_windows, 1)))
        pending_lexicon.append(np.tile(groups, (n_windows, 1)))
        windows += n_windows
        audio_s += features.duration_s
        if sum(len(m) for m in pending_mel) >= batch:
            flush(final=False)
    if sum(len(m) for m in pending_mel):
        flush(final=True)
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "calls": len(calls_in), "windows": windows,
            "audio_s": audio_s, "base_rss_mb": base_rss, "errors": 0,
            "rss_warm_mb": warm_rss, "rss_with_files_mb": loaded_rss,
            "input_mb": sum(len(data) for data, _ in calls_in) / 2**20,
            "stages_s": stages, "batch_size": batch, "batches": batches,
            "precision": precision}


CHILDREN = {"pipeline": child_pipeline, "naive": child_naive, "ceiling": child_ceiling}
