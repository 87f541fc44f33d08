import gc
import os
import threading

import threadpoolctl

from transforms import worker


def test_limit_blas_threads_leaves_blas_one_thread_until_restored():
    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                if pool["user_api"] == "blas"]

    before = blas_threads()
    limiter = worker.limit_blas_threads()
    try:
        assert blas_threads() and set(blas_threads()) == {1}
    finally:
        limiter.restore_original_limits()
    assert blas_threads() == before


def test_freeze_startup_objects_moves_live_objects_out_of_collection():
    survivors = [[] for _ in range(1000)]  # lists, which the collector tracks
    gc.unfreeze()
    try:
        assert any(obj is survivors for obj in gc.get_objects())
        frozen = worker.freeze_startup_objects()
        assert frozen == gc.get_freeze_count() >= len(survivors)
        assert not any(obj is survivors for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(obj is survivors for obj in gc.get_objects())


def test_thread_pool_is_one_per_name_and_process_with_a_thread_per_cpu():
    pool = worker.thread_pool("test-pool")
    assert worker.thread_pool("test-pool") is pool
    assert worker.thread_pool("test-other-pool") is not pool
    names = set(pool.map(lambda _: threading.current_thread().name,
                         range(4 * worker.POOL_THREADS)))
    assert names and all(name.startswith("test-pool") for name in names)
    assert len(names) <= worker.POOL_THREADS == (os.cpu_count() or 1)
