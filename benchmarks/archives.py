"""The benchmark's archives: made once, reused while their parameters stay the same.

The mixed-length archive comes from ``call-triage synth``; the one-call archive loops that
archive's audio into a single long 8 kHz μ-law WAV. Each folder gets a parameters file
(:data:`PARAMS_FILE`) saying how it was made: a folder whose parameters match is reused,
one made with others is rewritten, and a folder the benchmark did not make is never touched.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from typing import Any

PARAMS_FILE = ".bench-params.json"  # how a cached archive was made, to decide reuse
MIN_LONG_S, MAX_LONG_S = 30.0, 120.0  # synth's long calls: past the short ones, within 2 min
DURATION_BINS = ((0, 5), (5, 15), (15, 30), (30, 60), (60, 90), (90, 120.5),
                 (120.5, float("inf")))


def manifest_rows(archive: str) -> list[dict[str, str]]:
    """The rows of ``archive``'s manifest.csv."""
    with open(os.path.join(archive, "manifest.csv"), encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _reusable(folder: pathlib.Path, params: dict[str, Any]) -> bool:
    """True when ``folder`` holds an archive the benchmark made with ``params``."""
    marker = folder / PARAMS_FILE
    if not (marker.exists() and (folder / "manifest.csv").exists()):
        return False
    if json.loads(marker.read_text(encoding="utf-8")) != params:
        return False
    rows = manifest_rows(str(folder))
    return all((folder / row["audio"]).exists() for row in rows)


def _claim(folder: pathlib.Path) -> bool:
    """Whether ``folder`` may be (re)written: absent, empty or made by the benchmark.

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
