"""Running one measured method in a fresh interpreter and measuring it from outside.

The child is ``bench_pipeline.py --child METHOD``; its own rusage comes from ``os.wait4``
(isolated per measurement, unlike ``RUSAGE_CHILDREN`` in the parent) and a
:class:`benchmarks.sampling.TreeSampler` follows its whole process tree meanwhile.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Any, Optional

from benchmarks.sampling import TreeSampler, kill_tree

#: The script a child runs: the entry point, which dispatches ``--child`` to the method.
ENTRY_POINT = pathlib.Path(__file__).resolve().with_name("bench_pipeline.py")


@dataclasses.dataclass
class Measurement:
    """One method's result, as its child wrote it, and how that child process ran."""

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
    command = [sys.executable, str(ENTRY_POINT), "--child", mode,
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
                kill_tree(process.pid)
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
