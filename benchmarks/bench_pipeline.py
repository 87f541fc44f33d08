"""Benchmark: the nightly job end to end vs the seed's naive loop vs a compute-only ceiling.

On one synthetic archive of mixed-length calls (``call-triage synth``, cached between
runs), measures in the same run, each in its own child process:

(a) **pipeline** — ``pipelines.triage.run`` on the DirectRunner (in-process, or
    ``--workers W`` worker processes), timed from the call to ``run`` to its return: Beam
    start-up, listing, decode + features, Okt, RunInference, aggregation, Parquet reports,
    the invariant check and publishing;
(b) **naive** — the seed's way, a plain loop: per call ``librosa.load(path)`` with its
    defaults (mono, 22.05 kHz), 7-s windows every 7 s (last one zero-padded),
    ``librosa.feature.melspectrogram`` + ``librosa.power_to_db(ref=np.max)`` per window
    (128 mels × 302 frames at 22.05 kHz, cropped to the model's 300 frames by dropping
    the last 2 frames ≈ 46 ms), Okt tokens → ids, and one ``model.predict`` on that
    call's windows; timed from loading the model to the last call;
(c) **ceiling** — compute only: every file read into memory first (not timed), model
    loaded and warmed up (not timed), then ``transforms.audio.audio_features`` on the
    bytes + Okt + the model in batches of 256 windows, one tight loop, no Beam, no I/O;
    malloc keeps freed memory as in the job's workers (``reuse_freed_memory``).

Figures per method: calls/s, audio seconds per wall second (× real time; the audio total
is the calls report's ``duration_s``), windows/s, CPU seconds, and peak resident memory.
Peak memory is ``ru_maxrss`` of the child's own rusage, got with ``os.wait4(pid)``: it
covers the child and its reaped descendants and, unlike ``getrusage(RUSAGE_CHILDREN)``
in the parent (a high-water mark over *all* children reaped so far), is isolated per
measurement. ``ru_maxrss`` is the largest single process, so the parent also samples the
summed RSS of the child's whole process tree every 0.2 s (it matters with ``--workers``).

Finally the pipeline runs on a one-call archive holding a single 1-hour 8 kHz μ-law WAV
(archive audio looped; 10 min with ``--quick``) and its peak memory is printed.

``--precision`` (default ``auto``, as the nightly job) is the pipeline's
``--inference_precision``; the ceiling's model computes in the precision it resolves to on
this machine (:func:`models.precision.resolve_precision`); the naive loop stays the seed's
float32. The report says what each used.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--quick] [--calls N] [--workers W]
[--precision {auto,float32,bfloat16}]``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any, Optional

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.precision import PRECISION_CHOICES  # noqa: E402  (no TensorFlow: cheap here)

if TYPE_CHECKING:  # the children import NumPy lazily, after the parent's start-up
    import numpy as np

DEFAULT_ROOT = pathlib.Path("/tmp/call-triage-bench")
RUN_DATE = "2026-01-01"
PARAMS_FILE = ".bench-params.json"  # how a cached archive was made, to decide reuse
WINDOW_S = 7.0  # the project's window and hop (FeatureConfig.window_s / hop_s)
MODEL_FRAMES = 300  # the model's log-mel frames per window (FeatureConfig.n_frames)
SAMPLE_EVERY_S = 0.2  # period of the process-tree RSS sampler
#: Long calls from synth last uniform(MIN_LONG_S, MAX_LONG_S) s: above the short calls'
#: 3-30 s and within the benchmark's 2-minute range.
MIN_LONG_S, MAX_LONG_S = 30.0, 120.0
DURATION_BINS = ((0, 5), (5, 15), (15, 30), (30, 60), (60, 90), (90, 120.5),
                 (120.5, float("inf")))


# --- helpers shared by parent and children -----------------------------------------------

def rss_now_mb() -> float:
    """This process's current resident set (VmRSS) in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def write_result(path: str, result: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)


# --- children: one measurement each ------------------------------------------------------

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


def manifest_rows(archive: str) -> list[dict[str, str]]:
    with open(os.path.join(archive, "manifest.csv"), encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


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
            window = int(WINDOW_S * rate)
            n_windows = window_count(samples.size, window_samples=window, hop_samples=window)
            mels = []
            for start in range(0, n_windows * window, window):
                piece = samples[start:start + window]
                piece = np.pad(piece, (0, window - piece.size))
                db = librosa.power_to_db(librosa.feature.melspectrogram(y=piece, sr=rate),
                                         ref=np.max)
                frames_seen.add(db.shape[1])
                mels.append(fit_frames(db, MODEL_FRAMES))
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
            "stages_s": stages, "frames_per_window": sorted(frames_seen)}


def child_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    """Features on in-memory bytes + the model in large batches, one tight loop."""
    import numpy as np

    from models.bundle import load_bundle, predict_windows, with_precision
    from models.precision import native_bfloat16, resolve_precision
    from models import DEFAULT_BUNDLE
    from transforms.audio import audio_features
    from transforms.lexicon import N_GROUPS, lexicon_features
    from transforms.spec import LEXICON_INPUT, LOGMEL_INPUT, TOKENS_INPUT
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
        LOGMEL_INPUT: np.zeros((batch,) + config.logmel_shape, np.float32),
        TOKENS_INPUT: np.zeros((batch, config.text_length), np.int32),
        LEXICON_INPUT: np.zeros((batch, N_GROUPS), np.float32)}, batch_size=batch)
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


# --- parent: measuring a child ------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_usage(root: int) -> tuple[int, dict[int, float]]:
    """Summed VmRSS (kB) of ``root`` and all its descendants, and each one's own CPU
    seconds so far (utime + stime), from /proc."""
    total, cpu, stack, seen = 0, {}, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total, cpu


class TreeSampler(threading.Thread):
    """Samples a process tree every SAMPLE_EVERY_S: the peak of its summed RSS and the
    last CPU seconds seen of each process (worker processes that are never reaped are
    missing from rusage; this counts them, less up to one period each)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._stop_event = pid, 0, threading.Event()
        self._cpu: dict[int, float] = {}

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss_kb, cpu = _tree_usage(self.pid)
            self.peak_kb = max(self.peak_kb, rss_kb)
            self._cpu.update(cpu)
            self._stop_event.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclasses.dataclass
class Measurement:
    name: str
    result: dict[str, Any]
    peak_rss_mb: float  # ru_maxrss of the child (largest single process of its tree)
    tree_peak_mb: float  # sampled peak of the summed RSS of its process tree
    process_wall_s: float  # child start to exit, imports included
    process_cpu_s: float  # user + sys of the child and its reaped descendants
    tree_cpu_s: float  # sampled user + sys of every process of its tree
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    log: pathlib.Path
    failure: Optional[str] = None  # why there is no result (timeout, exit code)


def measure(mode: str, *, args: argparse.Namespace, archive: pathlib.Path,
            tag: str) -> Measurement:
    """Run ``--child mode`` in a fresh interpreter; its own rusage via os.wait4."""
    logs = args.out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
    log, result_file = logs / f"{slug}.log", logs / f"{slug}.json"
    result_file.unlink(missing_ok=True)
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", mode,
               "--child-archive", str(archive), "--child-result", str(result_file),
               "--child-reports", str(args.out_dir / f"reports-{slug}"),
               "--batch-size", str(args.batch_size), "--running-mode", args.running_mode,
               "--precision", args.precision]
    if args.workers:
        command += ["--workers", str(args.workers)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    print(f"  [{time.strftime('%H:%M:%S')}] {tag}: running (log {log}) ...", flush=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    failure = None
    with open(log, "w", encoding="utf-8") as handle:
        # cwd: the logs folder, so that a JVM crash file (hs_err_pid*.log) lands there
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                   cwd=logs)
        sampler = TreeSampler(process.pid)
        sampler.start()
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                break
            if time.perf_counter() - started > args.timeout:
                failure = f"timed out after {args.timeout:.0f} s; process tree killed"
                _kill_tree(process.pid)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.5)
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
    elapsed = time.perf_counter() - started
    if failure is None and (process.returncode != 0 or not result_file.exists()):
        failure = f"failed with exit code {process.returncode}"
    result = {} if failure else json.loads(result_file.read_text(encoding="utf-8"))
    measurement = Measurement(
        name=tag, result=result, peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kB
        tree_peak_mb=sampler.peak_kb / 1024, process_wall_s=elapsed,
        process_cpu_s=usage.ru_utime + usage.ru_stime, tree_cpu_s=sampler.cpu_s,
        load_before=load_before, load_after=os.getloadavg(), log=log, failure=failure)
    if failure:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        print(f"  [{time.strftime('%H:%M:%S')}] {tag}: {failure}; last lines of {log}:\n"
              + "\n".join(f"    | {line[:160]}" for line in tail), flush=True)
    else:
        print(f"  [{time.strftime('%H:%M:%S')}] {tag}: {result['calls']} calls, "
              f"{result['wall_s']:.1f} s timed, peak RSS {measurement.peak_rss_mb:.0f} MB",
              flush=True)
    return measurement


def _kill_tree(root: int) -> None:
    """SIGTERM ``root``'s descendants (deepest first) and ``root``; SIGKILL what is left
    after 10 s. Only processes this script started are touched."""
    import signal

    order, stack = [], [root]
    while stack:
        pid = stack.pop()
        order.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
        for pid in reversed(order):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(
                os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in order):
            time.sleep(0.2)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "X"


# --- parent: archives ---------------------------------------------------------------------

def _reusable(folder: pathlib.Path, params: dict[str, Any]) -> bool:
    """True when ``folder`` holds an archive this script made with ``params``."""
    marker = folder / PARAMS_FILE
    if not (marker.exists() and (folder / "manifest.csv").exists()):
        return False
    if json.loads(marker.read_text(encoding="utf-8")) != params:
        return False
    rows = manifest_rows(str(folder))
    return all((folder / row["audio"]).exists() for row in rows)


def _claim(folder: pathlib.Path) -> bool:
    """Whether ``folder`` may be (re)written: absent, empty or made by this script.

    Returns True when it holds earlier output (synth then needs --overwrite)."""
    if not folder.exists() or not any(folder.iterdir()):
        return False
    if (folder / PARAMS_FILE).exists():
        return True
    raise SystemExit(f"{folder} exists, is not empty and was not made by this benchmark "
                     f"(no {PARAMS_FILE}); choose another --archive or --out-dir")


def ensure_archive(args: argparse.Namespace) -> pathlib.Path:
    """Generate (or reuse) the corpus with ``call-triage synth``."""
    folder = args.archive
    params = {"generator": "call-triage synth", "calls": args.calls, "seed": args.seed,
              "long_fraction": args.long_fraction, "min_long_s": MIN_LONG_S,
              "max_long_s": MAX_LONG_S}
    if _reusable(folder, params):
        print(f"archive: reusing {folder} ({json.dumps(params)})")
        return folder
    overwrite = _claim(folder)
    (folder / PARAMS_FILE).unlink(missing_ok=True)
    tool = pathlib.Path(sys.executable).with_name("call-triage")
    command = ([str(tool)] if tool.exists() else [sys.executable, "-m", "pipelines.cli"]) + [
        "synth", "--out", str(folder), "--calls", str(args.calls), "--seed", str(args.seed),
        "--long-fraction", str(args.long_fraction), "--min-long-s", f"{MIN_LONG_S:g}",
        "--max-long-s", f"{MAX_LONG_S:g}",
        "--workers", str(len(os.sched_getaffinity(0)))] + (["--overwrite"] if overwrite else [])
    print(f"archive: generating {folder}\n  $ {shlex.join(command)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=args.out_dir, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"synth failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    print(f"  generated in {time.perf_counter() - started:.0f} s")
    (folder / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
    return folder


def describe_archive(folder: pathlib.Path) -> tuple[list[float], str]:
    """Durations of the archive's calls (file headers) and a printable description."""
    import soundfile as sf

    rows = manifest_rows(str(folder))
    infos = [sf.info(str(folder / row["audio"])) for row in rows]
    durations = [info.duration for info in infos]
    formats: dict[str, int] = {}
    for info in infos:
        key = (f"{info.format}/{info.subtype} {info.samplerate / 1000:g} kHz"
               + (f" x{info.channels}ch" if info.channels > 1 else ""))
        formats[key] = formats.get(key, 0) + 1
    counts = []
    for low, high in DURATION_BINS:
        n = sum(1 for d in durations if low <= d < high)
        label = "> 120 s" if high == float("inf") else f"{low:g}-{high:.0f} s"
        counts.append(f"{label}: {n}")
    size_mb = sum((folder / row["audio"]).stat().st_size for row in rows) / 2**20
    median = sorted(durations)[len(durations) // 2]
    by_count = sorted(formats.items(), key=lambda item: -item[1])
    text = (f"  {len(rows)} calls, {sum(durations) / 3600:.2f} h of audio, {size_mb:.0f} MB; "
            f"duration min {min(durations):.1f} s, median {median:.1f} s, "
            f"max {max(durations):.1f} s\n"
            f"  durations: {', '.join(counts)}\n"
            f"  formats: {', '.join(f'{name}: {n}' for name, n in by_count)}")
    return durations, text


def ensure_long_call(args: argparse.Namespace, source: pathlib.Path) -> pathlib.Path:
    """A one-call archive: ``long_s`` of the source archive's audio, looped, as one 8 kHz
    μ-law WAV (transforms.audio.encode_audio), with a manifest."""
    import numpy as np

    from transforms.audio import decode_audio, encode_audio

    folder = args.out_dir / f"long-{args.long_call_s:.0f}s"
    params = {"source": str(source), "source_params": json.loads(
        (source / PARAMS_FILE).read_text(encoding="utf-8")), "seconds": args.long_call_s,
        "format": "WAV/ULAW 8 kHz mono"}
    if _reusable(folder, params):
        print(f"long call: reusing {folder}")
        return folder
    _claim(folder)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "audio").mkdir(parents=True)
    started, rate = time.perf_counter(), 8_000
    target = int(args.long_call_s * rate)
    pieces, have, texts = [], 0, []
    rows = manifest_rows(str(source))
    while have < target:
        for row in rows:
            with open(source / row["audio"], "rb") as handle:
                mono = decode_audio(handle, name=row["audio"], target_hz=rate).samples[0]
            pieces.append(mono[:target - have])
            have += pieces[-1].size
            if len(texts) < 40 and row.get("transcript"):
                texts.append(row["transcript"])
            if have >= target:
                break
    samples = np.clip(np.concatenate(pieces), -1.0, 1.0)
    del pieces
    (folder / "audio" / "long.wav").write_bytes(
        encode_audio(samples, sample_rate_hz=rate, fmt="WAV", subtype="ULAW"))
    with open(folder / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["call_id", "audio", "transcript", "caller_id", "line"])
        writer.writerow(["long-call", "audio/long.wav", " ".join(texts), "010-0000-0000", "119"])
    (folder / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
    size = (folder / "audio" / "long.wav").stat().st_size / 2**20
    print(f"long call: wrote {folder} ({samples.size / rate:.0f} s, {size:.1f} MB) in "
          f"{time.perf_counter() - started:.0f} s")
    return folder


# --- parent: reporting --------------------------------------------------------------------

def machine_info() -> str:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo", encoding="ascii") as handle:
        memory = {line.split(":")[0]: int(line.split()[1]) for line in handle}
    versions = []
    for package in ("apache-beam", "tensorflow", "keras", "librosa", "numpy", "soxr"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} ?")
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--short", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.split("\n")
    modified = [line[3:] for line in dirty if line.strip()]
    busy = subprocess.run(["ps", "-eo", "pcpu=,rss=,comm=", "--sort=-pcpu"], capture_output=True,
                          text=True, check=False).stdout.splitlines()[:4]
    load = os.getloadavg()
    return "\n".join([
        f"host: {platform.node()}  {platform.platform()}",
        f"cpu: {cpu}; {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); "
        f"memory {memory['MemTotal'] / 2**20:.1f} GB ({memory['MemAvailable'] / 2**20:.1f} GB "
        f"available); no GPU used",
        f"load average (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "busiest processes now (%cpu, rss MB, name): " + "; ".join(
            f"{p.split(None, 2)[0]}% {int(p.split(None, 2)[1]) // 1024} MB {p.split(None, 2)[2]}"
            for p in busy if len(p.split(None, 2)) == 3),
        f"python {platform.python_version()}; " + ", ".join(versions),
        f"code: {REPO} at git {head or '?'}"
        + (f", with uncommitted changes to {', '.join(modified)}" if modified else ", clean"),
        f"model: {bundle_description()}",
    ])


def bundle_description() -> str:
    """Name, version and training size of the bundled model (bundle.json, no TF import)."""
    path = REPO / "models" / "bundled" / "multimodal"
    try:
        manifest = json.loads((path / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"{path}: cannot read bundle.json ({error})"
    training = manifest.get("training", {})
    return (f"{manifest.get('model_name')} {manifest.get('model_version')} "
            f"({training.get('parameter_count', '?')} parameters; {path})")


def print_table(rows: list[Measurement], *, audio_s: float) -> None:
    width = max(34, *(len(m.name) for m in rows))
    header = (f"{'method':<{width}} {'calls':>5} {'windows':>7} {'wall s':>7} {'cpu s':>7} "
              f"{'calls/s':>8} {'x real':>7} {'win/s':>7} {'win/cpu-s':>9} "
              f"{'peak RSS MB':>11} {'tree MB':>8}")
    print(header)
    print("-" * len(header))
    for m in rows:
        r = m.result
        if m.failure:
            print(f"{m.name:<{width}} {m.failure} (peak RSS {m.peak_rss_mb:.0f} MB, "
                  f"tree {m.tree_peak_mb:.0f} MB)")
            continue
        print(f"{m.name:<{width}} {r['calls']:>5} {r['windows']:>7} {r['wall_s']:>7.1f} "
              f"{r['cpu_s']:>7.1f} {r['calls'] / r['wall_s']:>8.2f} "
              f"{audio_s / r['wall_s']:>7.1f} {r['windows'] / r['wall_s']:>7.1f} "
              f"{r['windows'] / r['cpu_s']:>9.1f} {m.peak_rss_mb:>11.0f} {m.tree_peak_mb:>8.0f}")


def ratio_line(label: str, a: Measurement, b: Measurement) -> str:
    if a.failure or b.failure:
        return f"{label:<22} n/a ({a.failure or b.failure})"
    ra, rb = a.result, b.result
    wall = (ra["windows"] / ra["wall_s"]) / (rb["windows"] / rb["wall_s"])
    cpu = (ra["windows"] / ra["cpu_s"]) / (rb["windows"] / rb["cpu_s"])
    return (f"{label:<22} throughput {wall:.2f}x per wall second, {cpu:.2f}x per CPU second; "
            f"peak RSS {a.peak_rss_mb / b.peak_rss_mb:.2f}x "
            f"(tree {a.tree_peak_mb / b.tree_peak_mb:.2f}x)")


def details(m: Measurement) -> str:
    r = m.result
    if m.failure:
        return (f"{m.name}: {m.failure}; child process {m.process_wall_s:.1f} s wall, "
                f"{m.process_cpu_s:.1f} CPU s; log {m.log}")
    lines = [f"{m.name}: child process {m.process_wall_s:.1f} s wall incl. imports, "
             f"{m.process_cpu_s:.1f} CPU s (rusage; {m.tree_cpu_s:.1f} sampled over its "
             f"process tree); RSS after imports {r['base_rss_mb']:.0f} MB; "
             f"load avg {m.load_before[0]:.2f} -> {m.load_after[0]:.2f}; log {m.log}"]
    if "timings" in r:
        lines.append(f"    summary timings {r['timings']}; counts {r['counts']}")
    if "stages_s" in r:
        lines.append("    stages (s): " + ", ".join(
            f"{stage} {seconds:.1f}" for stage, seconds in r["stages_s"].items()))
    if "model_load_s" in r:
        lines.append(f"    model load (timed) {r['model_load_s']:.1f} s (Okt's JVM starts in the "
                     f"first call's tokenise); log-mel frames "
                     f"per window before fitting {r['frames_per_window']} -> cropped to "
                     f"{MODEL_FRAMES}; audio by librosa {r['audio_s']:.0f} s")
    if "batches" in r:
        lines.append(f"    {r['batches']} model batches of <= {r['batch_size']}; RSS after model "
                     f"load + one warm-up batch {r['rss_warm_mb']:.0f} MB, after reading "
                     f"{r['input_mb']:.0f} MB of files {r['rss_with_files_mb']:.0f} MB (before "
                     f"timing); audio by audio_features {r['audio_s']:.0f} s")
    if r.get("errors"):
        lines.append(f"    ERRORS: {r['errors']} {r.get('error_examples', '')}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------

def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=None,
                        help="calls in the archive (default 500; 40 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40 calls and a 10-minute long call")
    parser.add_argument("--workers", type=int, default=None,
                        help="DirectRunner worker processes for the pipeline "
                             "(--direct_num_workers; default: in-process)")
    parser.add_argument("--running-mode", default="multi_processing",
                        choices=("multi_processing", "multi_threading", "in_memory"),
                        help="--direct_running_mode used with --workers")
    parser.add_argument("--out-dir", type=pathlib.Path, default=DEFAULT_ROOT,
                        help=f"cache and output folder (default {DEFAULT_ROOT})")
    parser.add_argument("--archive", type=pathlib.Path, default=None,
                        help="archive folder (default OUT_DIR/archive-CALLS)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--long-fraction", type=float, default=0.3,
                        help="share of calls lasting 30 s to 2 min, the rest lasting 3-30 s "
                             "(default 0.3)")
    parser.add_argument("--long-call-s", type=float, default=None,
                        help="length of the single long call (default 3600; 600 with --quick)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds after which a measurement's process tree is killed "
                             "and the measurement reported as failed (default 1800)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="windows per model batch in the ceiling (default 256)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="model arithmetic of the pipeline (its --inference_precision) "
                             "and the ceiling (default auto)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--child-archive", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", help=argparse.SUPPRESS)
    parser.add_argument("--child-reports", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls is None:
        args.calls = 40 if args.quick else 500
    if args.long_call_s is None:
        args.long_call_s = 600.0 if args.quick else 3600.0
    if args.calls < 1 or args.batch_size < 1 or (args.workers is not None and args.workers < 1):
        parser.error("--calls, --batch-size and --workers must be >= 1")
    args.out_dir = args.out_dir.resolve()
    args.archive = (args.archive or args.out_dir / f"archive-{args.calls}").resolve()
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.child:
        args.archive, args.reports = args.child_archive, args.child_reports
        write_result(args.child_result, CHILDREN[args.child](args))
        return 0

    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"cwd: {os.getcwd()}; started {dt.datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}")
    print(machine_info())
    print()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    archive = ensure_archive(args)
    durations, description = describe_archive(archive)
    print(description)
    print()

    mode = (f"{args.workers} workers, {args.running_mode}" if args.workers else "in-process")
    mode += f", {args.precision}"
    print("measuring (each in its own child process):", flush=True)
    pipeline = measure("pipeline", args=args, archive=archive,
                       tag=f"pipeline ({mode})")
    naive = measure("naive", args=args, archive=archive, tag="naive (seed loop)")
    ceiling = measure("ceiling", args=args, archive=archive,
                      tag=f"ceiling (features+model, b{args.batch_size}, {args.precision})")
    long_archive = ensure_long_call(args, archive)
    long_run = measure("pipeline", args=args, archive=long_archive,
                       tag=f"pipeline, one {args.long_call_s / 60:.0f}-min call ({mode})")

    if not pipeline.failure:
        audio_s, source = pipeline.result["audio_s"], "from the calls report's duration_s"
    elif not ceiling.failure:
        audio_s, source = ceiling.result["audio_s"], "decoded by audio_features (no report)"
    else:
        audio_s, source = sum(durations), "from the file headers (no report)"
    print()
    print(f"results: {len(durations)} calls, {audio_s:.0f} s of audio ({audio_s / 3600:.2f} h, "
          f"{source}), {pipeline.result.get('windows', '?')} windows of 7 s")
    print("  x real = audio seconds per wall second; win/cpu-s = windows per CPU second "
          "(user+sys of the timed part, the fairer figure on a shared machine);")
    print("  peak RSS = ru_maxrss from os.wait4 of that child (largest single process); "
          "tree MB = sampled peak of summed RSS of the child's process tree")
    print()
    print_table([pipeline, naive, ceiling], audio_s=audio_s)
    print()
    print(ratio_line("pipeline / naive:", pipeline, naive))
    print(ratio_line("pipeline / ceiling:", pipeline, ceiling))
    print(f"model arithmetic: pipeline {pipeline.result.get('windows_by_precision', '?')} "
          f"(windows per precision), ceiling {ceiling.result.get('precision', '?')}, "
          f"naive float32")
    print()
    print("timed parts: pipeline = triage.run() start to return (Beam start-up, model load, "
          "features, inference, Parquet, publish);")
    print("  naive = model load + the loop (reads files); ceiling = the loop only (files "
          "already in memory, model loaded and warmed up)")
    print("  the ceiling is one loop: features run on one Python thread (the model uses TF's "
          "threads), while the\n  DirectRunner runs features on several threads, so on 2 "
          "cores the pipeline can beat it in wall time;\n  compare per CPU second for the "
          "cost of the pipeline's own machinery")
    for m in (pipeline, naive, ceiling):
        print(details(m))
    print()
    print(f"one long call ({args.long_call_s:.0f} s of 8 kHz mu-law audio), pipeline {mode}:")
    r = long_run.result
    if long_run.failure:
        print(f"  {long_run.failure}; peak RSS so far {long_run.peak_rss_mb:.0f} MB "
              f"(ru_maxrss), tree peak {long_run.tree_peak_mb:.0f} MB (sampled)")
    else:
        print(f"  peak RSS {long_run.peak_rss_mb:.0f} MB (ru_maxrss), tree peak "
              f"{long_run.tree_peak_mb:.0f} MB (sampled); RSS after imports "
              f"{r['base_rss_mb']:.0f} MB; {r['windows']} windows; wall {r['wall_s']:.1f} s "
              f"({r['audio_s'] / r['wall_s']:.1f}x real time)")
        if not pipeline.failure:
            print(f"  for comparison the {pipeline.result['calls']}-call run peaked at "
                  f"{pipeline.peak_rss_mb:.0f} MB (tree {pipeline.tree_peak_mb:.0f} MB)")
    print(details(long_run))
    print()
    load = os.getloadavg()
    print(f"finished {dt.datetime.now().astimezone():%H:%M:%S}; load average now "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
