"""Thin Beam wrappers around the pure feature code, with one dead-letter output.

Every expected per-call failure (a :class:`~transforms.errors.CallInputError`) becomes a
:class:`~transforms.records.CallError` on the ``errors`` output, with the stage its
exception class names. Anything else is a bug in our code and fails the job.
"""

from __future__ import annotations

from typing import Any, Iterator

import apache_beam as beam

from transforms.archive import list_calls
from transforms.errors import CallInputError
from transforms.features import CallFeatures, extract_call_features
from transforms.records import CallError, CallRecord
from transforms.spec import FeatureConfig
from transforms.text import OktTokenizer, start_okt
from transforms.worker import freeze_startup_objects, limit_blas_threads

CALLS = "calls"
ERRORS = "errors"


def error_message(formatted_traceback: list[str]) -> str:
    """The exception's own message from ``traceback.format_exception`` lines."""
    last = formatted_traceback[-1].rstrip("\n")
    return last.split(": ", 1)[1] if ": " in last else last


def to_call_error(dead_letter: tuple[Any, tuple[type, str, list[str]]]) -> CallError:
    """Turn a ``with_exception_handling`` dead letter ``(element, (type, repr, tb))`` into a
    :class:`CallError`; the element is a :class:`CallRecord` or carries one as ``.record``."""
    element, (exc_type, _, formatted_traceback) = dead_letter
    record = element if isinstance(element, CallRecord) else element.record
    return CallError(
        call_id=record.call_id,
        source_uri=record.source_uri,
        stage=exc_type.stage,
        error_type=exc_type.__name__,
        message=error_message(formatted_traceback),
    )


class _SplitListing(beam.DoFn):
    """Lists an archive root; listed calls go to the main output, rejected rows to errors."""

    def process(self, root: str) -> Iterator[Any]:
        for entry in list_calls(root):
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


class _ExtractFeaturesFn(beam.DoFn):
    """CallRecord → CallFeatures. Set-up, once per worker process: BLAS limited to one
    thread, start-up objects frozen (:mod:`transforms.worker`) and the tokenizer's JVM
    loading in the background."""

    def __init__(self, config: FeatureConfig):
        super().__init__()
        self._config = config
        self._tokenizer: OktTokenizer | None = None

    def setup(self) -> None:
        limit_blas_threads()
        freeze_startup_objects()
        start_okt()
        self._tokenizer = OktTokenizer()

    def process(self, record: CallRecord) -> Iterator[CallFeatures]:
        yield extract_call_features(record, config=self._config, tokenizer=self._tokenizer)


class ExtractFeatures(beam.PTransform):
    """``PCollection[CallRecord]`` → ``{"calls": PCollection[CallFeatures], "errors": ...}``."""

    def __init__(self, config: FeatureConfig):
        super().__init__()
        self._config = config

    def expand(self, records):
        features, dead_letters = (
            records
            | "Featurise" >> beam.ParDo(_ExtractFeaturesFn(self._config))
            .with_exception_handling(exc_class=CallInputError))
        errors = dead_letters | "ToCallError" >> beam.Map(to_call_error)
        return {CALLS: features, ERRORS: errors}
