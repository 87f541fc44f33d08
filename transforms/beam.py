"""Thin Beam wrappers around the pure feature code, with one dead-letter output.

Every expected per-call failure (a :class:`~transforms.errors.CallInputError`) becomes a
:class:`~transforms.records.CallError` on the ``errors`` output, with the stage its
exception class names. Anything else is a bug in our code and fails the job.
"""

from __future__ import annotations

import collections
import concurrent.futures
from typing import Any, Iterator, NamedTuple

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from transforms.archive import list_calls
from transforms.errors import CallInputError
from transforms.features import extract_call_features
from transforms.progress import expect_calls, step_progress
from transforms.records import CallError, CallRecord
from transforms.spec import FeatureConfig
from transforms.okt import start_okt
from transforms.text import OktTokenizer
from transforms.worker import (POOL_THREADS, freeze_startup_objects, limit_blas_threads,
                               reuse_freed_memory, thread_pool)

CALLS = "calls"
ERRORS = "errors"
_POOL_NAME = "features"  # the feature threads (transforms.worker.thread_pool)


class _SplitListing(beam.DoFn):
    """Lists an archive root; listed calls go to the main output, rejected rows to errors."""

    def process(self, root: str) -> Iterator[Any]:
        listed = list_calls(root)
        expect_calls(sum(not isinstance(entry, CallError) for entry in listed))
        for entry in listed:
            if isinstance(entry, CallError):
                yield beam.pvalue.TaggedOutput(ERRORS, entry)
            else:
                yield entry


class ReadArchive(beam.PTransform):
    """``PBegin`` → ``{"calls": PCollection[CallRecord], "errors": PCollection[CallError]}``.

    The listing runs on a worker (so a ``gs://`` manifest is read where the data is), then
    the calls are reshuffled so that the feature work spreads over all workers.
    """

    def __init__(self, root: str):
        super().__init__()
        self._root = root

    def expand(self, pbegin):
        listed = (
            pbegin
            | "Root" >> beam.Create([self._root])
            | "List" >> beam.ParDo(_SplitListing()).with_outputs(ERRORS, main=CALLS))
        calls = listed[CALLS] | "Spread" >> beam.Reshuffle()
        return {CALLS: calls, ERRORS: listed[ERRORS]}


class _InFlight(NamedTuple):
    """A call being featurised on a feature thread, with the window it came in."""

    record: CallRecord
    features: concurrent.futures.Future
    timestamp: Any
    window: Any


class _ExtractFeaturesFn(beam.DoFn):
    """CallRecord → CallFeatures on the main output, or its CallError on ``errors``.

    Calls are featurised on the process's feature threads (decoding, log-mel and Okt
    release the GIL), up to ``2 × POOL_THREADS`` calls of a bundle in flight per DoFn
    instance; results come out in input order, with each input's timestamp and window.
    Memory: at most ``POOL_THREADS`` calls decode at once per process, and each instance
    holds at most its in-flight calls' log-mel (150 KB per 7-s window). Set-up, once per worker
    process: BLAS limited to one thread, freed memory kept for reuse and start-up objects
    frozen (:mod:`transforms.worker`), and the tokenizer's JVM loading in the background.
    ``keep_transcript``: see :func:`~transforms.features.extract_call_features`.
    """

    def __init__(self, config: FeatureConfig, *, keep_transcript: bool = False):
        super().__init__()
        self._config = config
        self._keep_transcript = keep_transcript
        self._tokenizer: OktTokenizer | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._in_flight: collections.deque[_InFlight] = collections.deque()

    def setup(self) -> None:
        limit_blas_threads()
        reuse_freed_memory()
        freeze_startup_objects()
        start_okt()
        self._tokenizer = OktTokenizer.for_config(self._config)
        self._pool = thread_pool(_POOL_NAME)

    def start_bundle(self) -> None:
        self._in_flight = collections.deque()

    def process(self, record: CallRecord, timestamp=beam.DoFn.TimestampParam,
                window=beam.DoFn.WindowParam) -> Iterator[Any]:
        future = self._pool.submit(extract_call_features, record, config=self._config,
                                   tokenizer=self._tokenizer,
                                   keep_transcript=self._keep_transcript)
        self._in_flight.append(_InFlight(record, future, timestamp, window))
        if len(self._in_flight) > 2 * POOL_THREADS:
            yield self._finish_oldest()

    def finish_bundle(self) -> Iterator[Any]:
        while self._in_flight:
            yield self._finish_oldest()

    def _finish_oldest(self) -> WindowedValue | beam.pvalue.TaggedOutput:
        """The oldest call's features (or error), waiting for them; a
        :class:`~transforms.errors.CallInputError` becomes a ``CallError`` on ``errors``,
        anything else fails the bundle."""
        record, features, timestamp, window = self._in_flight.popleft()
        try:
            featurised = WindowedValue(features.result(), timestamp, (window,))
        except CallInputError as error:
            featurised = beam.pvalue.TaggedOutput(
                ERRORS, WindowedValue(CallError.of(record, error), timestamp, (window,)))
        step_progress("featurised").add()
        return featurised


class ExtractFeatures(beam.PTransform):
    """``PCollection[CallRecord]`` → ``{"calls": PCollection[CallFeatures], "errors": ...}``;
    with ``keep_transcript`` each call's record carries its transcript text."""

    def __init__(self, config: FeatureConfig, *, keep_transcript: bool = False):
        super().__init__()
        self._config = config
        self._keep_transcript = keep_transcript

    def expand(self, records):
        outputs = records | "Featurise" >> beam.ParDo(_ExtractFeaturesFn(
            self._config, keep_transcript=self._keep_transcript)).with_outputs(
                ERRORS, main=CALLS)
        return {CALLS: outputs[CALLS], ERRORS: outputs[ERRORS]}
