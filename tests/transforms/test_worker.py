import gc
import os
import subprocess
import sys
import textwrap
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
        # frozen objects can only leave (freed by another thread of the test process)
        assert frozen >= len(survivors) and gc.get_freeze_count() <= frozen
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


def test_reuse_freed_memory_stops_log_mel_page_faulting_its_buffers_on_a_thread():
    # A fresh interpreter, since the malloc settings are process-wide. Before the change,
    # each 8-window log-mel on a thread page-faulted ~1,400 pages back in.
    script = textwrap.dedent("""
        import resource, threading
        import numpy as np
        from transforms import audio, worker
        from transforms.spec import FeatureConfig
        assert worker.reuse_freed_memory()
        config = FeatureConfig()
        windows = np.random.default_rng(0).uniform(
            -0.5, 0.5, (8, config.window_samples)).astype(np.float32)
        def churn():
            for _ in range(3):
                audio.log_mel(windows, config=config)
            before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            for _ in range(10):
                audio.log_mel(windows, config=config)
            print((resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before) / 10)
        thread = threading.Thread(target=churn)
        thread.start()
        thread.join()
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    faults_per_chunk = float(run.stdout)
    assert faults_per_chunk < 100
