"""The Beam transforms (reading an archive, extracting features) on a real archive of
good and bad calls."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from transforms.audio import encode_audio
from transforms.archive import list_calls
from transforms.beam import CALLS, ERRORS, ExtractFeatures, ReadArchive
from transforms.features import CallFeatures
from transforms.records import CallError, CallRecord
from transforms.spec import DEFAULT_FEATURES
from transforms.worker import POOL_THREADS

SR_TEL = 8_000
SR_HI = 48_000


def _sine(freq_hz: float, seconds: float, sr: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


@pytest.fixture(scope="module")
def mixed_archive(tmp_path_factory):
    """6 listed rows that work, 7 that fail at every stage the reader and features have."""
    root = tmp_path_factory.mktemp("archive")
    (root / "tel.wav").write_bytes(encode_audio(
        _sine(440, 3.5, SR_TEL), sample_rate_hz=SR_TEL, subtype="ULAW"))
    (root / "stereo.wav").write_bytes(encode_audio(
        np.stack([_sine(300, 9.0, SR_HI), _sine(900, 9.0, SR_HI, 0.1)]),
        sample_rate_hz=SR_HI))
    (root / "long.flac").write_bytes(encode_audio(
        _sine(600, 15.0, 16_000), sample_rate_hz=16_000, fmt="FLAC"))
    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    (root / "empty.wav").write_bytes(b"")
    (root / "bad_text.txt").write_bytes(b"\xff\xfe\xfa\x00\x81")
    (root / "cp949.txt").write_bytes("불이 났어요".encode("cp949"))
    (root / "manifest.csv").write_text(
        "call_id,audio,transcript,transcript_path\n"
        "fire,tel.wav,집에 불이 났어요 빨리 와 주세요,\n"
        "stereo,stereo.wav,,\n"
        "long,long.flac,,cp949.txt\n"
        "corrupt,corrupt.wav,,\n"
        "empty,empty.wav,,\n"
        "missing,missing.wav,,\n"
        "encoding,tel.wav,,bad_text.txt\n"
        "dup,tel.wav,,\n"
        "dup,stereo.wav,,\n"
        "escape,../outside.wav,,\n"
        ",tel.wav,,\n", encoding="utf-8")
    return root


EXPECTED_WINDOWS = {"fire": 1, "stereo": 2, "long": 3}
EXPECTED_ERRORS = {
    ("corrupt", "decode", "AudioError"),
    ("empty", "decode", "AudioError"),
    ("missing", "read", "SourceError"),
    ("encoding", "read", "TranscriptError"),
    ("dup", "read", "ManifestRowError"),
    ("escape", "read", "ManifestRowError"),
    ("<manifest.csv row 11>", "read", "ManifestRowError"),
}
INPUT_ROWS = 11


def test_transforms_route_every_call_to_features_or_errors(mixed_archive):
    with BeamTestPipeline() as pipeline:
        listed = pipeline | ReadArchive(str(mixed_archive))
        featurised = listed[CALLS] | ExtractFeatures(DEFAULT_FEATURES)
        good = featurised[CALLS] | beam.Map(
            lambda call: (call.record.call_id, call.n_windows, call.log_mel.shape[1:],
                          call.sample_rate_hz, len(call.tokens) > 0))
        assert_that(good, equal_to([
            ("fire", 1, (128, 300), SR_TEL, True),
            ("stereo", 2, (128, 300), SR_HI, False),
            ("long", 3, (128, 300), 16_000, True),
        ]), label="good")
        errors = ((listed[ERRORS], featurised[ERRORS]) | beam.Flatten()
                  | beam.Map(lambda e: (e.call_id, e.stage, e.error_type)))
        # both "dup" rows are reported, so "dup" is expected twice
        assert_that(errors, equal_to(
            list(EXPECTED_ERRORS) + [("dup", "read", "ManifestRowError")]),
                    label="errors")


def _call_id(element: CallFeatures | CallError) -> str:
    return element.call_id if isinstance(element, CallError) else element.record.call_id


def test_extract_features_keeps_each_calls_window_past_its_look_ahead(mixed_archive):
    """More calls than the DoFn keeps in flight (2 per feature thread), in fixed windows:
    calls emitted from ``process`` and from ``finish_bundle`` keep the window they came in."""
    records = [record for record in list_calls(str(mixed_archive))
               if isinstance(record, CallRecord)]
    copies = 4 * POOL_THREADS + 1
    stamped = [window.TimestampedValue(
                   dataclasses.replace(record, call_id=f"{record.call_id}-{copy}"), 60.0 * copy)
               for copy in range(copies) for record in records]
    with BeamTestPipeline() as pipeline:
        # Create unwraps each TimestampedValue; its type inference does not
        featurised = (pipeline | beam.Create(stamped).with_output_types(CallRecord)
                      | beam.WindowInto(window.FixedWindows(60))
                      | ExtractFeatures(DEFAULT_FEATURES))
        for tag, failed in ((CALLS, False), (ERRORS, True)):
            window_starts = featurised[tag] | f"Window {tag}" >> beam.Map(
                lambda element, w=beam.DoFn.WindowParam: (
                    _call_id(element), int(w.start.micros // 60_000_000)))
            call_ids = ("corrupt", "empty", "missing", "encoding") if failed else EXPECTED_WINDOWS
            assert_that(window_starts, equal_to(
                [(f"{call_id}-{copy}", copy) for copy in range(copies) for call_id in call_ids]),
                label=f"windows of {tag}")


def test_extract_features_keeps_the_transcript_it_read_only_when_asked(mixed_archive):
    def texts(features, label: str):
        return features[CALLS] | label >> beam.Map(lambda call: (call.record.call_id,
                                                                 call.record.transcript))

    with BeamTestPipeline() as pipeline:
        listed = pipeline | ReadArchive(str(mixed_archive))
        kept = listed[CALLS] | "Keep" >> ExtractFeatures(DEFAULT_FEATURES, keep_transcript=True)
        plain = listed[CALLS] | "Plain" >> ExtractFeatures(DEFAULT_FEATURES)
        assert_that(texts(kept, "KeptTexts"), equal_to([
            ("fire", "집에 불이 났어요 빨리 와 주세요"), ("stereo", ""), ("long", "불이 났어요")]),
            label="kept")
        assert_that(texts(plain, "PlainTexts"), equal_to([
            ("fire", "집에 불이 났어요 빨리 와 주세요"), ("stereo", None), ("long", None)]),
            label="plain")
