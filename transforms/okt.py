"""Okt, konlpy's Korean tokenizer, in this process: the JVM it runs in and the one Okt
object every tokenizer shares.

A process can start the JVM only once, so the shared Okt is created lazily, under a lock,
on first use (:func:`shared_okt`), or early on a tokenizer thread (:func:`start_okt`).
JPype attaches any Python thread that calls into Java automatically (as a daemon thread,
so it never holds the JVM open at exit), so Beam's worker threads can tokenise without
further set-up; Okt keeps no mutable state and is safe to call from several threads.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Optional

import jpype
import konlpy
from konlpy.tag import Okt

from transforms.errors import ConfigError
from transforms.worker import thread_pool

_OKT: Optional[Okt] = None
_OKT_LOCK = threading.Lock()
#: The process's tokenizer threads (:func:`transforms.worker.thread_pool`).
POOL_NAME = "okt"
#: The JVM's heap limit: Okt's live data fits well within it, while konlpy's default
#: (1,024 MB) lets the heap grow to a large, run-dependent share of a worker's memory.
OKT_MAX_HEAP_MB = 256
#: How the JVM starts for Okt (konlpy's own start would add ``-ea`` and let the JVM pick
#: G1, with collector threads per core). A small heap of long-lived dictionaries needs no
#: concurrent collector, so the serial one saves memory and CPU. Explicit collections are
#: ignored: JPype calls ``System.gc()`` whenever Python's collector runs, and each full
#: collection stops Okt; the JVM's own young collections keep the heap in bounds.
OKT_JVM_OPTIONS = ("-Dfile.encoding=UTF8", f"-Xmx{OKT_MAX_HEAP_MB}m", "-XX:+UseSerialGC",
                   "-XX:+DisableExplicitGC")
#: What Okt loads from konlpy's ``java`` folder: konlpy's ``OktInterface`` classes and
#: open-korean-text with the libraries it needs (konlpy puts every tagger's jars on the
#: class path).
_OKT_CLASS_PATH = ("bin", "open-korean-text-2.1.0.jar", "scala-library-2.12.3.jar",
                   "twitter-text-1.14.7.jar", "snakeyaml-1.12.jar")


def _start_jvm() -> None:
    """Start the process's JVM with :data:`OKT_JVM_OPTIONS` and Okt's class path.

    Raises ConfigError, before starting anything, when konlpy's ``java`` folder lacks an
    entry of the class path (another konlpy version than ``setup.py`` pins).
    """
    java_dir = os.path.join(os.path.dirname(konlpy.__file__), "java")
    class_path = [os.path.join(java_dir, entry) for entry in _OKT_CLASS_PATH]
    missing = [path for path in class_path if not os.path.exists(path)]
    if missing:
        raise ConfigError(f"konlpy {konlpy.__version__} lacks what Okt needs: {missing}")
    jpype.startJVM(jpype.getDefaultJVMPath(), *OKT_JVM_OPTIONS, classpath=class_path,
                   convertStrings=True)


def _create_okt() -> Okt:
    """Build konlpy's Okt; the first call in a process starts the JVM (:func:`_start_jvm`).

    The JVM is started on a short-lived thread that detaches itself before it ends. The
    thread that starts a JPype JVM becomes the JVM's non-daemon ``main`` thread, and at
    exit JPype waits for every non-daemon thread to detach. Started on a long-lived pooled
    thread (as Beam SDK workers run DoFns), it would keep the worker process from ever
    exiting; started here, the threads that tokenise later attach as daemons.
    """
    created: list[Okt] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            if not jpype.isJVMStarted():
                _start_jvm()
            created.append(Okt())
        except BaseException as error:  # re-raised on the calling thread below
            failures.append(error)
        finally:
            if jpype.isJVMStarted():
                jpype.java.lang.Thread.detach()

    starter = threading.Thread(target=start, name="start-okt-jvm")
    starter.start()
    starter.join()
    if failures:
        raise failures[0]
    return created[0]


def shared_okt() -> Okt:
    """The process's one Okt, created on first use; safe to call from any thread."""
    global _OKT
    okt = _OKT
    if okt is None:
        with _OKT_LOCK:
            if _OKT is None:
                _OKT = _create_okt()
            okt = _OKT
    return okt


def start_okt() -> concurrent.futures.Future:
    """Start the JVM and build Okt on a tokenizer thread, without waiting.

    The first Okt of a process takes seconds (mostly its first analysis, which loads
    the dictionaries), so a worker starts it while it sets up. Calls made meanwhile wait
    for it. The future's result is the Okt.
    """
    return thread_pool(POOL_NAME).submit(shared_okt)
