"""What ``bench_pipeline.py`` prints besides progress: the machine it ran on, the results
table, the ratios between methods and each measurement's details."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess
from importlib import metadata

from benchmarks.measure import Measurement

REPO = pathlib.Path(__file__).resolve().parents[1]


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
                     f"{r['model_frames']}; audio by librosa {r['audio_s']:.0f} s")
    if "batches" in r:
        lines.append(f"    {r['batches']} model batches of <= {r['batch_size']}; RSS after model "
                     f"load + one warm-up batch {r['rss_warm_mb']:.0f} MB, after reading "
                     f"{r['input_mb']:.0f} MB of files {r['rss_with_files_mb']:.0f} MB (before "
                     f"timing); audio by audio_features {r['audio_s']:.0f} s")
    if r.get("errors"):
        lines.append(f"    ERRORS: {r['errors']} {r.get('error_examples', '')}")
    return "\n".join(lines)
