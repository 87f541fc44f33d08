"""Keep the console for what the operator needs: drop the start-up lines TensorFlow's C++
runtime writes straight to the process's stderr (file descriptor 2) on a machine without a
GPU, which no logging setting reaches (they come before absl's logging starts, or at
CUDA's probe). Every other line passes through unchanged; ``-v`` keeps them all.

:func:`filter_stderr` points descriptor 2 at a pipe read by a thread that copies each line
to the real stderr unless it matches :data:`NOISE`; child processes (Beam workers) inherit
the filter. :func:`restore_stderr` puts the descriptor back and flushes what is left.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Optional

#: Lines dropped: TensorFlow's GPU probing where there is no GPU.
NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    rb"STDERR"
    rb"|[IWE]\d{4} [\d:. ]+\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers"
    rb"|E\d{4} [\d:. ]+\d+ cuda_platform\.cc:\d+\] failed call to cuInit"
    rb"|[IW]\d{4} [\d:. ]+\d+ cpu_feature_guard\.cc:\d+\])")

#: Python log messages dropped: Beam's RunInference saying on every model load that it
#: cannot measure memory (it looks for a module this platform does not give it).
NOISE_MESSAGES = ("Resource module is not available for current platform",)

_state: Optional[tuple[int, threading.Thread]] = None


class DropNoise(logging.Filter):
    """A log filter dropping the records whose message starts with :data:`NOISE_MESSAGES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(NOISE_MESSAGES)


def _copy_lines(source: int, target: int) -> None:
    with os.fdopen(source, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
            if kept:
                os.write(target, kept)
        if pending and not NOISE.match(pending):
            os.write(target, pending)


def filter_stderr() -> None:
    """Start dropping :data:`NOISE` lines from descriptor 2 (once per process)."""
    global _state
    if _state is not None:
        return
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_copy_lines, args=(read_end, real), daemon=True,
                              name="stderr-filter")
    thread.start()
    _state = (real, thread)


def restore_stderr() -> None:
    """Point descriptor 2 back at the real stderr and let the filter copy what is left."""
    global _state
    if _state is None:
        return
    real, thread = _state
    _state = None
    os.dup2(real, 2)  # the pipe's last writer here closes: the thread sees its end
    thread.join(timeout=5)
    if not thread.is_alive():  # else a child process still writes through it
        os.close(real)
