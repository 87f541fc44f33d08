"""The console filter: TensorFlow's GPU-probe lines go, everything else stays."""

from __future__ import annotations

import logging
import subprocess
import sys

from pipelines import quiet

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796545767.889643    2331 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1796545773.867574    2331 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]
KEPT = ["E0000 00:00:1796545773.867574    2331 some_kernel.cc:10] a real TensorFlow error",
        "Traceback (most recent call last):", "call-triage run: error: something"]


def test_the_filter_drops_the_gpu_probe_lines_of_any_writer_and_keeps_the_rest():
    code = ("import os, subprocess, sys\nfrom pipelines import quiet\nquiet.filter_stderr()\n"
            "lines = sys.argv[1:]\n"
            "os.write(2, (lines[0] + '\\n' + lines[1] + '\\n').encode())\n"
            "subprocess.run(['sh', '-c', 'printf \"%s\\\\n\" \"$@\" >&2', 'sh', *lines[2:]],"
            " check=True)\n"
            "quiet.restore_stderr()\nos.write(2, b'after\\n')\n")
    lines = [NOISE[0], KEPT[0], NOISE[1], KEPT[1], NOISE[2], KEPT[2]]
    done = subprocess.run([sys.executable, "-c", code, *lines], capture_output=True,
                          text=True, check=True)
    assert done.stderr.splitlines() == [KEPT[0], KEPT[1], KEPT[2], "after"]


def test_beams_memory_warning_is_dropped_from_the_log():
    noise = logging.LogRecord("root", logging.WARNING, __file__, 1,
                              "Resource module is not available for current platform, "
                              "memory usage cannot be fetched.", None, None)
    kept = logging.LogRecord("root", logging.WARNING, __file__, 1, "a real warning", None, None)
    assert not quiet.DropNoise().filter(noise) and quiet.DropNoise().filter(kept)
