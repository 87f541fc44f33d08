import gc

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
