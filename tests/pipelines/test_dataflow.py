"""The nightly job's full graph builds and translates for Dataflow (``--dry_run``: no network)."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
import cloudpickle
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2

from models import DEFAULT_BUNDLE
from pipelines.settings import settings_from_options
from pipelines.triage import build_pipeline



KEY = "planted-caller-key-5b1e"


def test_dataflow_dry_run_serialises_and_translates_every_step(tmp_path):
    key_file = tmp_path / "caller.key"
    key_file.write_text(KEY, encoding="utf-8")
    options = PipelineOptions([
        "--runner=DataflowRunner", "--dry_run=True",
        "--project=call-triage-test", "--region=asia-northeast3",
        "--temp_location=gs://call-triage-test/tmp",
        "--sdk_container_image=asia-northeast3-docker.pkg.dev/p/r/call-triage:0.1.0",
        "--archive=gs://call-archive/2026-11-22", "--out=gs://call-reports/triage",
        f"--model={DEFAULT_BUNDLE}", "--run_date=2026-11-22",
        f"--caller_hash_key_file={key_file}",
    ])
    settings = settings_from_options(options, environ={}, today=dt.date(2026, 11, 23))
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, settings=settings)

    result = pipeline.run()

    transforms = result.job.proto_pipeline.components.transforms.values()
    labels = {transform.unique_name for transform in transforms}
    for step in ("ReadArchive", "ExtractFeatures", "RunInference", "Aggregate",
                 "GroupByCaller", "WriteCalls", "WriteEmergencies", "WritePrankCandidates",
                 "WriteErrors", "WriteInputIds"):
        assert step in labels, f"{step} missing from the Dataflow graph"
    # every user DoFn was pickled into the graph
    payloads = [t.spec.payload for t in transforms if t.spec.urn == "beam:transform:pardo:v1"]
    assert len(payloads) > 10
    # the caller-hash key is read by the workers: neither the graph's pickled DoFns nor
    # the job's options hold it, nor the settings' repr; they hold where to read it
    pickled = b"".join(_unpickled_bytes(payload) for payload in payloads)
    assert str(key_file).encode() in pickled and KEY.encode() not in pickled
    assert KEY.encode() not in result.job.proto_pipeline.SerializeToString()
    assert KEY not in str(result.job.proto) and KEY not in repr(settings)


def _unpickled_bytes(pardo_payload: bytes) -> bytes:
    """A ParDo's DoFn as Beam's pickler stored it (encoded and compressed), loaded and
    pickled again uncompressed, so that every string it holds stands in clear."""
    do_fn = beam_runner_api_pb2.ParDoPayload.FromString(pardo_payload).do_fn.payload
    return cloudpickle.dumps(pickler.loads(do_fn))
