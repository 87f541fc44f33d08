"""transforms.okt: one Okt per process, its JVM's settings, and processes that exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jpype
import pytest

from transforms import okt
from transforms.errors import ConfigError
from transforms.text import OktTokenizer

TOKENIZER = OktTokenizer()
FIRE = "집에 불이 났어요! 빨리 와 주세요"
SENTENCES = (FIRE, "네 저 지금 여기 사람이 쓰러졌어요 숨을 안 쉬어요",
             "강도가 칼을 들고 들어왔어요 112 맞죠?")


@pytest.fixture
def okt_constructions(monkeypatch):
    """Forget the shared Okt and count how often the real factory builds a new one."""
    real_factory = okt._create_okt
    calls = []

    def counting_factory():
        calls.append(threading.get_ident())
        time.sleep(0.05)  # widen the window in which an unlocked race would build twice
        return real_factory()

    monkeypatch.setattr(okt, "_OKT", None)
    monkeypatch.setattr(okt, "_create_okt", counting_factory)
    return calls


def test_okt_is_created_once_for_many_sentences_and_tokenizers(okt_constructions):
    expected = [TOKENIZER.tokenize(s) for s in SENTENCES]
    assert len(okt_constructions) == 1
    tokenizers = [OktTokenizer() for _ in range(3)]
    results = [tokenizers[i % 3].tokenize(SENTENCES[i % len(SENTENCES)]) for i in range(1000)]
    assert len(okt_constructions) == 1
    assert results == [expected[i % len(SENTENCES)] for i in range(1000)]


def test_tokenize_from_threads_shares_one_okt_and_matches_main_thread(okt_constructions):
    barrier = threading.Barrier(4)

    def work(_):
        barrier.wait()  # all four threads ask for the not-yet-created Okt at once
        return threading.get_ident(), [OktTokenizer().tokenize(s) for s in SENTENCES * 5]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(work, range(4)))
    assert len(okt_constructions) == 1
    assert len({ident for ident, _ in outcomes}) == 4
    expected = [TOKENIZER.tokenize(s) for s in SENTENCES * 5]
    assert all(tokens == expected for _, tokens in outcomes)


def test_start_okt_and_early_tokenising_share_one_okt(okt_constructions):
    started = okt.start_okt()
    tokens = TOKENIZER.tokenize_async(FIRE).result(timeout=120)
    assert started.result(timeout=120) is okt._OKT
    assert len(okt_constructions) == 1
    assert tokens == TOKENIZER.tokenize(FIRE)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_worker_process_that_tokenised_on_a_pooled_thread_exits():
    """Beam's SDK workers run DoFns on pooled threads that never end; a JVM first started
    from such a thread must not keep the process alive at exit (it hung the runner)."""
    script = textwrap.dedent("""
        import threading
        from transforms.text import OktTokenizer
        done = threading.Event()
        def pooled_thread():
            print(OktTokenizer().tokenize("집에 불이 났어요"), flush=True)
            done.set()
            threading.Event().wait()
        threading.Thread(target=pooled_thread, daemon=True).start()
        done.wait()
    """)
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                              text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "'불'" in finished.stdout


def test_a_process_that_tokenised_on_the_tokenizer_threads_exits():
    script = textwrap.dedent("""
        from transforms.okt import start_okt
        from transforms.text import OktTokenizer
        start_okt()
        print(OktTokenizer().tokenize_async("집에 불이 났어요").result(), flush=True)
    """)
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                              text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "'불'" in finished.stdout


def test_the_jvm_heap_is_capped():
    TOKENIZER.tokenize("불이 났어요")  # the process's Okt, and so its JVM, exist
    max_heap = jpype.java.lang.Runtime.getRuntime().maxMemory()
    assert max_heap <= okt.OKT_MAX_HEAP_MB * 2**20 < 1024 * 2**20  # konlpy's default: 1 GiB


def test_the_jvm_runs_the_serial_collector_without_assertions():
    TOKENIZER.tokenize("불이 났어요")
    management = jpype.java.lang.management.ManagementFactory
    collectors = {str(bean.getName()) for bean in management.getGarbageCollectorMXBeans()}
    assert collectors == {"Copy", "MarkSweepCompact"}  # the serial collector's two
    arguments = [str(argument) for argument in management.getRuntimeMXBean().getInputArguments()]
    assert "-ea" not in arguments  # konlpy's own start enables assertions


def test_explicit_garbage_collections_are_ignored_by_the_jvm():
    # JPype calls System.gc() when Python's collector runs; each full collection stops Okt
    TOKENIZER.tokenize("불이 났어요")
    management = jpype.java.lang.management.ManagementFactory
    full = next(bean for bean in management.getGarbageCollectorMXBeans()
                if str(bean.getName()) == "MarkSweepCompact")
    before = full.getCollectionCount()
    jpype.java.lang.System.gc()
    assert full.getCollectionCount() == before


def test_a_konlpy_without_the_jars_okt_needs_is_refused_before_the_jvm_starts(monkeypatch):
    monkeypatch.setattr(okt, "_OKT_CLASS_PATH", okt._OKT_CLASS_PATH + ("okt-9.9.jar",))
    with pytest.raises(ConfigError, match="okt-9.9.jar"):
        okt._start_jvm()
