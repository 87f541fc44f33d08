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

This file is the command line; the methods are in ``methods.py`` (each run in a child
process by ``measure.py``, with the readings of ``sampling.py``), the archives in
``archives.py`` and the printed report in ``report.py``, all in ``benchmarks/``.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--quick] [--calls N] [--workers W]
[--precision {auto,float32,bfloat16}]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import shlex
import sys
from typing import Optional

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.archives import describe_archive, ensure_archive, ensure_long_call  # noqa: E402
from benchmarks.measure import measure  # noqa: E402
from benchmarks.methods import CHILDREN, write_result  # noqa: E402
from benchmarks.report import details, machine_info, print_table, ratio_line  # noqa: E402
from models.precision import PRECISION_CHOICES  # noqa: E402  (no TensorFlow: cheap here)

DEFAULT_ROOT = pathlib.Path("/tmp/call-triage-bench")


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
