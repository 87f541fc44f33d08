"""Per-process settings for the processes that do the heavy work (Beam workers, the
training extraction pool): one BLAS thread, freed memory kept for reuse, start-up objects
kept out of the garbage collector's full passes, and the process's named thread pools.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import functools
import gc
import os
import threading

import threadpoolctl

#: Threads in each of the process's pools: one per CPU.
POOL_THREADS = os.cpu_count() or 1

#: Blocks up to this size are served from malloc's heaps and reused once freed; larger
#: ones (an hour-long call's samples) are mapped and unmapped (glibc's largest allowed
#: value, 32 MB on 64-bit).
MALLOC_MMAP_THRESHOLD_BYTES = 32 * 2**20
#: Free memory at the top of a malloc heap beyond this goes back to the OS.
MALLOC_TRIM_THRESHOLD_BYTES = 64 * 2**20
_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3

_POOLS: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def thread_pool(name: str) -> concurrent.futures.ThreadPoolExecutor:
    """The process's thread pool called ``name``, of :data:`POOL_THREADS` threads, created
    on first use.

    For work that releases the GIL (numpy, libsndfile, soxr, Java through JPype), so that
    one Python thread can keep every core busy.
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(name)
        if pool is None:
            pool = _POOLS[name] = concurrent.futures.ThreadPoolExecutor(
                max_workers=POOL_THREADS, thread_name_prefix=name)
        return pool


def limit_blas_threads() -> threadpoolctl.threadpool_limits:
    """Make BLAS (numpy's matrix products, e.g. the mel projection of
    :func:`transforms.audio.log_mel`) use one thread in this process; returns the limiter
    (``restore_original_limits()`` undoes it).

    Feature work runs in parallel across processes (Beam workers, the training extraction
    pool) and threads; a BLAS thread pool inside each of them only adds threads that
    spin-wait on the same cores.
    """
    return threadpoolctl.threadpool_limits(limits=1, user_api="blas")


def reuse_freed_memory() -> bool:
    """Let glibc's malloc keep freed blocks of up to :data:`MALLOC_MMAP_THRESHOLD_BYTES`
    for reuse (up to :data:`MALLOC_TRIM_THRESHOLD_BYTES` free per heap) instead of handing
    them back to the OS; returns False, changing nothing, where the C library has no
    ``mallopt`` (not glibc).

    The feature path allocates a few megabyte-sized numpy arrays per call (frames, spectra,
    mel blocks). Handed back to the kernel on free, every new one would be page-faulted in
    and zeroed again; kept, they are reused.
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES)
                and mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES))


def freeze_startup_objects() -> int:
    """Move every object the garbage collector tracks now into its permanent generation
    (:func:`gc.freeze`); returns how many objects are frozen in all.

    Call it once the long-lived state is loaded (TensorFlow, the Keras model, Beam, the
    JVM bridge): hundreds of thousands of objects that every full collection would
    otherwise walk again. Objects created later are collected as usual; start-up objects
    that die later are only freed at exit, where they are unfrozen so that the
    interpreter's last collection sees them.
    """
    gc.freeze()
    _unfreeze_at_exit()
    return gc.get_freeze_count()


@functools.cache
def _unfreeze_at_exit() -> None:
    atexit.register(gc.unfreeze)
