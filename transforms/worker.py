"""Per-process settings for the processes that do the heavy work (Beam workers, the
training extraction pool): one BLAS thread, start-up objects kept out of the garbage
collector's full passes, and the process's named thread pools.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import gc
import os
import threading

import threadpoolctl

#: Threads in each of the process's pools: one per CPU.
POOL_THREADS = os.cpu_count() or 1

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
    pool). A BLAS thread pool inside each of them only adds threads that spin-wait on the
    same cores: on the 500-call benchmark archive the job used 50.8 CPU s in-process with
    OpenBLAS's default pool and 41.5 CPU s with one thread; with two worker processes it
    took 52 s of wall time, then 38 s.
    """
    return threadpoolctl.threadpool_limits(limits=1, user_api="blas")


def freeze_startup_objects() -> int:
    """Move every object the garbage collector tracks now into its permanent generation
    (:func:`gc.freeze`); returns how many objects are frozen in all.

    Call it once the long-lived state is loaded (TensorFlow, the Keras model, Beam, the
    JVM bridge): ~560,000 objects that every full collection would otherwise walk again.
    On the 500-call benchmark archive the in-process job ran 32 full collections taking
    7.9 s of its ~32 s; after freezing they took ~1.7 s and the job 26–28 s. Objects created
    later are collected as usual; start-up objects that die later are only freed at exit,
    where they are unfrozen so that the interpreter's last collection sees them.
    """
    gc.freeze()
    _unfreeze_at_exit()
    return gc.get_freeze_count()


@functools.cache
def _unfreeze_at_exit() -> None:
    atexit.register(gc.unfreeze)
