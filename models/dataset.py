"""Training data: a labelled archive's calls as features, then per-window inputs and targets.

:func:`load_archive_features` lists an archive, extracts every call's features once with
:func:`transforms.features.extract_call_features` (the one feature path; in parallel worker
processes, each with its own Okt tokenizer) and caches them on disk as ``.npz`` keyed by
the archive, its listing and the :class:`~transforms.spec.FeatureConfig`.
:func:`window_set` stacks the windows of some calls into model inputs (through
:func:`transforms.features.window_inputs`) and per-window targets and sample weights.
:func:`reviewed_nights` and :func:`reviewed_features` give the calls analysts labelled
with ``call-triage review import`` (docs/review.md), for the train split.

Window targets (one row per window, ``window_s`` long from its start, clipped to the call):

- ``EMERGENCY_OUTPUT`` and ``AUDIO_OUTPUT``: 1 for the windows of an ``emergency`` call,
  0 otherwise. When the call gives ``event_start_s``/``event_end_s``, only the windows that
  overlap the event by at least half the window or half the event are 1; the others hold
  normal speech and are 0 (if none qualifies, the window holding the event's start is 1).
- ``CATEGORY_OUTPUT``: the index of the call's category in ``spec.CATEGORIES``; weight 0
  where the category is unknown and on the normal windows of an emergency call.
- ``TEXT_OUTPUT`` ("the transcript claims an emergency"): 1 for ``emergency`` and ``prank``.
- ``PRANK_OUTPUT``: 1 for ``prank``.
- ``GATE_OUTPUT`` ("the words report a real emergency"): 1 for ``emergency``, in every
  window of the call (the transcript is the whole call's).
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
from typing import Collection, Iterable, Mapping, Optional, Sequence

import numpy as np
from apache_beam.io.filesystems import FileSystems

from transforms import spec
from transforms.aihub import LabelMapping
from transforms.archive import file_stamp, list_calls, read_call_label, with_call_metadata
from transforms.errors import ArchiveError, CallInputError, ConfigError
from transforms.features import CallFeatures, extract_call_features, window_inputs
from transforms.progress import CountedProgress
from transforms.records import CallError, CallRecord
from transforms.spec import FeatureConfig
from transforms.text import OktTokenizer
from transforms.vocabulary import Vocabulary
from transforms.worker import limit_blas_threads, reuse_freed_memory

LOG = logging.getLogger(__name__)

#: Bumped when the cache layout changes, so old cache files are not read.
CACHE_FORMAT = 1
#: Log-mel values are kept in memory and on disk as float16 (dB; ~0.03 dB resolution).
LOGMEL_DTYPE = np.float16

_WORKER_TOKENIZER: Optional[OktTokenizer] = None


@dataclasses.dataclass(frozen=True)
class LabelProblem:
    """A call whose AI Hub label gave no label: ``problem`` is ``"unmapped"`` or
    ``"contradictory"`` (:class:`transforms.aihub.Resolution`), ``detail`` says which
    values."""

    call_id: str
    problem: str
    detail: str


@dataclasses.dataclass(frozen=True, eq=False)
class ArchiveFeatures:
    """An archive's calls with extracted features (listing order), the calls that failed,
    and the calls whose AI Hub label could not be mapped (:func:`with_aihub_labels`).

    ``calls[i].log_mel`` is float16 ``(n_windows, n_mels, n_frames)`` dB.
    """

    root: str
    calls: tuple[CallFeatures, ...]
    errors: tuple[CallError, ...]
    label_problems: tuple[LabelProblem, ...] = ()


@dataclasses.dataclass(frozen=True, eq=False)
class WindowSet:
    """The windows of ``calls`` (in call order) as model inputs, targets and weights.

    With N the total number of windows: ``inputs`` as :func:`window_inputs` gives them
    (``logmel`` float16 ``(N, n_mels, n_frames, 1)``, ``mfcc`` float32, ``tokens`` int32);
    ``targets`` per output name: float32 ``(N, 1)`` for the sigmoid outputs, int32 ``(N,)``
    category index for ``CATEGORY_OUTPUT``; ``weights`` per output name float32 ``(N,)``;
    ``call_index`` int64 ``(N,)``: the index in ``calls`` each window comes from.
    """

    calls: tuple[CallFeatures, ...]
    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    call_index: np.ndarray

    @property
    def n_windows(self) -> int:
        return int(self.call_index.size)

    def call_windows(self) -> list[slice]:
        """The slice of the window arrays that belongs to each call, in call order."""
        ends = np.cumsum([call.n_windows for call in self.calls])
        return [slice(int(end - call.n_windows), int(end)) for end, call in zip(ends, self.calls)]

    def subset(self, rows: np.ndarray) -> "WindowSet":
        """The windows ``rows`` (int indices) only; ``calls`` and ``call_index`` are kept
        as they are (so the result no longer covers whole calls)."""
        def take(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {name: array[rows] for name, array in arrays.items()}
        return WindowSet(calls=self.calls, inputs=take(self.inputs),
                         targets=take(self.targets), weights=take(self.weights),
                         call_index=self.call_index[rows])


# --- per-window targets ------------------------------------------------------------------

def event_windows(*, window_starts_s: np.ndarray, window_s: float, duration_s: float,
                  event_start_s: float, event_end_s: float) -> np.ndarray:
    """Which windows hold an event ``[event_start_s, event_end_s]`` (seconds).

    Window ``i`` spans ``[start_i, min(start_i + window_s, duration_s)]``. It holds the
    event when their overlap is at least half the window or at least half the event. If
    no window qualifies (a zero-length event), the window holding ``event_start_s`` does
    (for an event past the decoded audio, the window starting nearest to it).
    Returns bool ``(n_windows,)``.
    """
    if window_s <= 0 or duration_s <= 0:
        raise ConfigError(f"window_s={window_s} and duration_s={duration_s} must be > 0")
    if not 0 <= event_start_s <= event_end_s:
        raise ConfigError(
            f"event [{event_start_s}, {event_end_s}] s must satisfy 0 <= start <= end")
    starts = np.asarray(window_starts_s, dtype=np.float64)
    ends = np.maximum(np.minimum(starts + window_s, duration_s), starts)
    overlap = np.clip(np.minimum(ends, event_end_s) - np.maximum(starts, event_start_s), 0, None)
    half = 0.5 * np.minimum(ends - starts, event_end_s - event_start_s)
    holds = (overlap > 0) & (overlap >= half - 1e-9)
    if not holds.any():
        holds = (starts <= event_start_s) & (event_start_s < ends)
        if not holds.any():
            holds[np.argmin(np.abs(starts - event_start_s))] = True
    return holds


def call_targets(call: CallFeatures, *, window_s: float
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Targets and sample weights of one labelled call's windows (see the module doc).

    Returns ``(targets, weights)``: dicts by output name, targets float32 ``(n, 1)`` for
    the sigmoid outputs and int32 ``(n,)`` for the category, weights float32 ``(n,)``.
    Raises ConfigError for a call without a known label.
    """
    record, n = call.record, call.n_windows
    if record.label not in spec.LABELS:
        raise ConfigError(f"call {record.call_id!r} has label={record.label!r}, "
                          f"not one of {spec.LABELS}")
    has_event = record.event_start_s is not None and record.event_end_s is not None
    if record.label != "emergency":
        emergency = np.zeros(n, dtype=bool)
    elif has_event:
        emergency = event_windows(
            window_starts_s=call.window_starts_s, window_s=window_s,
            duration_s=call.duration_s, event_start_s=record.event_start_s,
            event_end_s=record.event_end_s)
    else:
        emergency = np.ones(n, dtype=bool)
    known = record.category in spec.CATEGORIES
    category_weight = np.full(n, 1.0 if known else 0.0, dtype=np.float32)
    if record.label == "emergency":
        category_weight[~emergency] = 0.0
    flag = np.ones((n, 1), dtype=np.float32)
    targets = {
        spec.EMERGENCY_OUTPUT: emergency.astype(np.float32)[:, np.newaxis],
        spec.AUDIO_OUTPUT: emergency.astype(np.float32)[:, np.newaxis],
        spec.TEXT_OUTPUT: flag * float(record.label in ("emergency", "prank")),
        spec.PRANK_OUTPUT: flag * float(record.label == "prank"),
        spec.GATE_OUTPUT: flag * float(record.label == "emergency"),
        spec.CATEGORY_OUTPUT: np.full(
            n, spec.CATEGORIES.index(record.category) if known else 0, dtype=np.int32),
    }
    weights = {name: np.ones(n, dtype=np.float32) for name in spec.SIGMOID_OUTPUTS}
    weights[spec.CATEGORY_OUTPUT] = category_weight
    return targets, weights


def balanced_weights(targets: np.ndarray) -> np.ndarray:
    """Per-row weights that balance a binary target (0/1, any shape with rows first):
    ``n / (2 · n_class)`` for each row's class, as scikit-learn's "balanced". Returns
    float32 ``(n,)``; all ones when only one class is present."""
    positive = np.asarray(targets).reshape(len(targets), -1)[:, 0] > 0.5
    n, n_positive = positive.size, int(positive.sum())
    if n_positive in (0, n):
        return np.ones(n, dtype=np.float32)
    return np.where(positive, n / (2.0 * n_positive), n / (2.0 * (n - n_positive))
                    ).astype(np.float32)


def window_set(calls: Sequence[CallFeatures], *, vocab: Vocabulary, config: FeatureConfig,
               input_names: Sequence[str]) -> WindowSet:
    """Stack labelled ``calls`` into a :class:`WindowSet` for a model taking ``input_names``.

    Targets and weights are made for every output; pick the ones a model has. The
    emergency weights are left at 1 (see :func:`balanced_weights` for training).
    """
    if not calls:
        raise ConfigError("no calls to make windows from")
    per_call = [call_targets(call, window_s=config.window_s) for call in calls]
    names = per_call[0][0].keys()
    return WindowSet(
        calls=tuple(calls),
        inputs=window_inputs(calls, vocab=vocab, config=config, input_names=input_names),
        targets={name: np.concatenate([t[name] for t, _ in per_call]) for name in names},
        weights={name: np.concatenate([w[name] for _, w in per_call]) for name in names},
        call_index=np.repeat(np.arange(len(calls)), [call.n_windows for call in calls]),
    )


# --- splits and vocabulary --------------------------------------------------------------

#: Columns of a label file (:func:`read_labels`); ``call_id`` and ``label`` are required.
LABEL_COLUMNS = ("call_id", "label", "category", "split", "event_start_s", "event_end_s")


def _label_fields(row: Mapping[str, str], *, where: str) -> dict:
    """The CallRecord fields one label-file row sets, validated (ConfigError naming
    ``where`` and the column)."""
    label = (row.get("label") or "").strip()
    if label not in spec.LABELS:
        raise ConfigError(f"{where}: label must be one of {spec.LABELS}, got {label!r}")
    fields: dict = {"label": label}
    category = (row.get("category") or "").strip() or None
    if category is not None and category not in spec.CATEGORIES:
        raise ConfigError(f"{where}: category {category!r} is not a slug of the taxonomy")
    fields["category"] = category
    split = (row.get("split") or "").strip() or None
    if split is not None and split not in spec.SPLITS:
        raise ConfigError(f"{where}: split must be one of {spec.SPLITS}, got {split!r}")
    fields["split"] = split
    for column in ("event_start_s", "event_end_s"):
        text = (row.get(column) or "").strip()
        try:
            fields[column] = float(text) if text else None
        except ValueError:
            raise ConfigError(f"{where}: {column} is not a number") from None
    return fields


def read_labels(path: str) -> dict[str, dict]:
    """The labels of a CSV file (local or ``gs://``) with the columns
    :data:`LABEL_COLUMNS` (``call_id``, ``label`` required): ``{call_id: fields}`` with the
    fields :func:`relabel` sets. Raises ConfigError for a missing column, a duplicate or
    empty id, or a label, category, split or event time that is not valid, naming the line.
    """
    try:
        with FileSystems.open(path) as handle:
            text = handle.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read labels {path}: {error}") from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [column for column in ("call_id", "label") if column not in (reader.fieldnames or ())]
    if missing:
        raise ConfigError(f"labels {path} lack the column(s) {missing}")
    labels: dict[str, dict] = {}
    for row in reader:
        where = f"{path} line {reader.line_num}"
        call_id = (row.get("call_id") or "").strip()
        if not call_id:
            raise ConfigError(f"{where}: call_id is empty")
        if call_id in labels:
            raise ConfigError(f"{where}: call_id {call_id!r} is labelled twice")
        labels[call_id] = _label_fields(row, where=where)
    return labels


def relabel(calls: Sequence[CallFeatures], labels: Mapping[str, dict], *,
            source: str = "label_file") -> tuple[CallFeatures, ...]:
    """``calls`` with the labels of a label file (:func:`read_labels`) in their records,
    replacing the archive's own, ``source`` (of ``records.LABEL_SOURCES``) as their
    ``label_source``; calls the file does not name lose their label (so they are left out
    of every split). Raises ConfigError when the file names no call of ``calls``."""
    if labels and not any(call.record.call_id in labels for call in calls):
        raise ConfigError("the label file names none of the archive's calls")
    unlabelled = dict.fromkeys(("label", "category", "split", "event_start_s",
                                "event_end_s", "label_source"))
    return tuple(dataclasses.replace(call, record=dataclasses.replace(
        call.record, **({**labels[call.record.call_id], "label_source": source}
                        if call.record.call_id in labels else unlabelled)))
        for call in calls)


def split_calls(calls: Iterable[CallFeatures]) -> dict[str, tuple[CallFeatures, ...]]:
    """The labelled calls of each split (``spec.SPLITS``); unlabelled calls are left out.

    Calls without a ``split`` are placed by a stable hash of their id: 80 % train, 10 %
    validation, 10 % test. Raises ConfigError for an unknown split name.
    """
    groups: dict[str, list[CallFeatures]] = {name: [] for name in spec.SPLITS}
    for call in calls:
        if call.record.label is None:
            continue
        split = call.record.split or _hash_split(call.record.call_id)
        if split not in groups:
            raise ConfigError(f"call {call.record.call_id!r} has split={split!r}, "
                              f"not one of {spec.SPLITS}")
        groups[split].append(call)
    return {name: tuple(group) for name, group in groups.items()}


def _hash_split(call_id: str) -> str:
    bucket = int(hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "test" if bucket == 9 else "validation" if bucket == 8 else "train"


def build_vocabulary(train_calls: Sequence[CallFeatures]) -> Vocabulary:
    """The token vocabulary of the TRAIN calls' transcripts (tokens seen at least twice)."""
    return Vocabulary.build([call.tokens for call in train_calls], min_freq=2)


# --- labels of the AI Hub layouts ---------------------------------------------------------

#: Distinct label problems named in the summary warning of :func:`with_aihub_labels`.
LABEL_PROBLEMS_NAMED = 10
#: Threads reading one small thing per call (AI Hub JSON labels, file stamps): network
#: latency, not CPU, bounds it on GCS.
PER_CALL_READ_THREADS = 16


def with_aihub_labels(records: Sequence[CallRecord], *, mapping: LabelMapping
                      ) -> tuple[list[CallRecord], list[LabelProblem]]:
    """``records`` with the labels their AI Hub 119-call JSON files map to, and the calls
    whose labels could not be mapped.

    A record whose ``transcript_path`` is a ``.json`` label (read even when the manifest
    also gives the text inline) gets the label and category ``mapping`` resolves from its
    fields (``label_source`` ``"aihub_119"``), its ``urgencyLevel`` and the metadata its
    manifest row lacks. A manifest label or category is checked against the JSON's: one
    the JSON contradicts (another label or category, or a category the JSON's label cannot
    carry) makes the call unlabelled and ``"contradictory"``; one it agrees with stays,
    completed by the JSON. A JSON label that is invalid, unmapped or contradicts itself
    labels nothing (a manifest label stays) and is returned as a :class:`LabelProblem`, as
    is every contradiction; a JSON without label fields labels nothing. A file that cannot
    be read is left to the feature step, which reports it as the call's read error. Order
    is kept.
    """
    def resolve(record: CallRecord) -> tuple[CallRecord, Optional[LabelProblem]]:
        if not (record.transcript_uri or "").lower().endswith(".json"):
            return record, None
        try:
            _, call_label = read_call_label(record.transcript_uri)
        except CallInputError:
            return record, None
        record = with_call_metadata(record, call_label)
        resolution = mapping.resolve(call_label)
        if resolution.problem == "unlabelled":
            return record, None
        if resolution.problem is not None:
            return record, LabelProblem(record.call_id, resolution.problem, resolution.detail)
        category = record.category or resolution.category
        if (record.label in (None, resolution.label)
                and resolution.category in (None, category)
                and category in (None, *spec.LABEL_CATEGORIES[resolution.label])):
            return dataclasses.replace(record, label=resolution.label, category=category,
                                       label_source="aihub_119"), None
        detail = (f"the manifest says {record.label or '-'}/{record.category or '-'}, the "
                  f"JSON {resolution.label}/{resolution.category or '-'}")
        return (dataclasses.replace(record, label=None, category=None, label_source=None),
                LabelProblem(record.call_id, "contradictory", detail))

    with concurrent.futures.ThreadPoolExecutor(PER_CALL_READ_THREADS) as pool:
        resolved = list(pool.map(resolve, records))
    problems = [problem for _, problem in resolved if problem is not None]
    for problem in problems:
        LOG.warning("call %s: %s AI Hub label (%s)", problem.call_id,
                    problem.problem, problem.detail)
    if problems:
        common = collections.Counter(f"{p.problem}: {p.detail}" for p in problems).most_common()
        LOG.warning("%d call(s) have an AI Hub label that gives no label, most often: %s",
                    len(problems), "; ".join(f"{text} ({count} calls)"
                                             for text, count in common[:LABEL_PROBLEMS_NAMED]))
    return [record for record, _ in resolved], problems


# --- feature extraction and its cache --------------------------------------------------

def _init_worker(config: FeatureConfig) -> None:
    global _WORKER_TOKENIZER
    limit_blas_threads()
    reuse_freed_memory()
    _WORKER_TOKENIZER = OktTokenizer.for_config(config)


def _extract_one(record: CallRecord, config: FeatureConfig) -> CallFeatures | CallError:
    """One call's features with float16 log-mel and without the speech detector's probes
    (training does not read them), or the CallError of its failure."""
    try:
        call = extract_call_features(record, config=config, tokenizer=_WORKER_TOKENIZER)
    except CallInputError as error:
        return CallError.of(record, error)
    return dataclasses.replace(call, log_mel=call.log_mel.astype(LOGMEL_DTYPE), speech=None)


def extract_features(records: Sequence[CallRecord], *, config: FeatureConfig,
                     workers: int) -> list[CallFeatures | CallError]:
    """:func:`extract_call_features` of every record, in order, on ``workers`` processes
    (``1``: in this process). Failed calls come back as :class:`CallError`."""
    if workers < 1:
        raise ConfigError(f"workers={workers} must be >= 1")
    if workers == 1 or len(records) < 2:
        _init_worker(config)
        return _collect((_extract_one(record, config) for record in records),
                        total=len(records))
    context = multiprocessing.get_context("spawn")  # no forked TensorFlow or JVM state
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker,
            initargs=(config,)) as pool:
        chunk = max(1, min(32, len(records) // (4 * workers)))
        mapped = pool.map(_extract_one, records, [config] * len(records), chunksize=chunk)
        return _collect(mapped, total=len(records))


def _collect(mapped: Iterable[CallFeatures | CallError], *, total: int
             ) -> list[CallFeatures | CallError]:
    """The results of ``mapped`` as a list, showing progress (:class:`CountedProgress`)."""
    results = []
    progress = CountedProgress("featurised", total=total)
    for result in mapped:
        results.append(result)
        progress.add()
    return results


#: The fields of a listed call its features depend on: the cache key reads these only, so
#: a changed label, split, event time or metadata reuses the cached features.
FEATURE_FIELDS = ("call_id", "audio_uri", "transcript", "transcript_uri")

FileStamps = Mapping[str, Optional[tuple[int, float]]]


def file_stamps(records: Sequence[CallRecord]) -> dict[str, Optional[tuple[int, float]]]:
    """:func:`~transforms.archive.file_stamp` (size, modification time) of every audio and
    transcript file ``records`` name, by URI."""
    uris = sorted({uri for record in records
                   for uri in (record.audio_uri, record.transcript_uri) if uri})
    with concurrent.futures.ThreadPoolExecutor(PER_CALL_READ_THREADS) as pool:
        return dict(zip(uris, pool.map(file_stamp, uris)))


def cache_key(*, root: str, listing: Sequence[CallRecord | CallError], stamps: FileStamps,
              config: FeatureConfig) -> str:
    """A hex key naming an archive's features: its root, the :data:`FEATURE_FIELDS` of every
    listed call with the ``stamps`` of its audio and transcript files, every listing error
    (so a changed audio or transcript column, or a file rewritten in place, gives a new
    key; a relabelled manifest does not), the feature config and :data:`CACHE_FORMAT`."""
    def entry(item: CallRecord | CallError) -> dict:
        fields = dataclasses.asdict(item)
        if isinstance(item, CallError):
            return fields
        return {**{name: fields[name] for name in FEATURE_FIELDS},
                "files": [stamps.get(item.audio_uri),
                          stamps.get(item.transcript_uri) if item.transcript_uri else None]}

    payload = {
        "format": CACHE_FORMAT,
        "root": root if "://" in root else os.path.abspath(root),
        "config": config.to_dict(),
        "listing": [[type(item).__name__, entry(item)] for item in listing],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:20]


_ERROR_FIELDS = tuple(field.name for field in dataclasses.fields(CallError))


def _save_cache(path: str, *, calls: Sequence[CallFeatures], errors: Sequence[CallError]) -> None:
    """Write features to ``path`` (.npz, no pickled objects) via a temporary file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n_mels_frames = calls[0].log_mel.shape[1:] if calls else (0, 0)
    arrays = {
        "log_mel": (np.concatenate([call.log_mel for call in calls]) if calls
                    else np.zeros((0,) + n_mels_frames, LOGMEL_DTYPE)).astype(LOGMEL_DTYPE),
        "window_starts_s": np.concatenate(
            [call.window_starts_s for call in calls] or [np.zeros(0)]).astype(np.float32),
        "window_counts": np.array([call.n_windows for call in calls], dtype=np.int64),
        "call_ids": np.array([call.record.call_id for call in calls], dtype=str),
        "tokens": np.array([json.dumps(call.tokens, ensure_ascii=False) for call in calls],
                           dtype=str),
        "duration_s": np.array([call.duration_s for call in calls], dtype=np.float64),
        "sample_rate_hz": np.array([call.sample_rate_hz for call in calls], dtype=np.int64),
        "n_channels": np.array([call.n_channels for call in calls], dtype=np.int64),
    }
    for field in _ERROR_FIELDS:
        arrays[f"error_{field}"] = np.array([getattr(e, field) for e in errors], dtype=str)
    partial = f"{path}.tmp-{os.getpid()}.npz"
    np.savez(partial, **arrays)
    os.replace(partial, path)


def _load_cache(path: str, *, records: Mapping[str, CallRecord]
                ) -> tuple[list[CallFeatures], list[CallError]]:
    """Read what :func:`_save_cache` wrote, re-attaching the listed records by call id."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    bounds = np.concatenate([[0], np.cumsum(arrays["window_counts"])])
    calls = [
        CallFeatures(
            record=records[call_id],
            log_mel=arrays["log_mel"][bounds[i]:bounds[i + 1]],
            window_starts_s=arrays["window_starts_s"][bounds[i]:bounds[i + 1]],
            tokens=tuple(json.loads(str(arrays["tokens"][i]))),
            duration_s=float(arrays["duration_s"][i]),
            sample_rate_hz=int(arrays["sample_rate_hz"][i]),
            n_channels=int(arrays["n_channels"][i]))
        for i, call_id in enumerate(arrays["call_ids"].tolist())]
    errors = [CallError(*(str(arrays[f"error_{field}"][i]) for field in _ERROR_FIELDS))
              for i in range(len(arrays["error_call_id"]))]
    return calls, errors


def default_workers() -> int:
    """Feature-extraction processes: the CPUs this process may use (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def load_archive_features(root: str, *, config: FeatureConfig, cache_dir: Optional[str],
                          workers: Optional[int] = None,
                          call_ids: Optional[Collection[str]] = None,
                          label_mapping: Optional[LabelMapping] = None) -> ArchiveFeatures:
    """List archive ``root`` and extract the features of every call (with ``call_ids``:
    of the listed calls with those ids only), or read them from ``cache_dir`` (``None``: no
    cache) when this listing and config were extracted before. AI Hub 119-call labels are
    mapped with ``label_mapping`` (default: the shipped one; :func:`with_aihub_labels`).

    Listing errors and per-call failures end up in ``errors`` (logged with their count);
    raises :class:`~transforms.errors.ArchiveError` when the archive cannot be listed.
    """
    listing = list_calls(root)
    if call_ids is not None:
        listing = [item for item in listing if item.call_id in call_ids]
    records, label_problems = with_aihub_labels(
        [item for item in listing if isinstance(item, CallRecord)],
        mapping=label_mapping or LabelMapping.load())
    listing_errors = [item for item in listing if isinstance(item, CallError)]
    path = None
    if cache_dir:
        key = cache_key(root=root, listing=listing, stamps=file_stamps(records),
                        config=config)
        path = os.path.join(cache_dir, f"features-{key}.npz")
        if os.path.isfile(path):
            LOG.info("reading cached features of %s from %s", root, path)
            calls, errors = _load_cache(path, records={r.call_id: r for r in records})
            return ArchiveFeatures(root=root, calls=tuple(calls), errors=tuple(errors),
                                   label_problems=tuple(label_problems))
    LOG.info("extracting features of %d calls from %s", len(records), root)
    results = extract_features(records, config=config,
                               workers=min(workers or default_workers(), max(1, len(records))))
    calls = [item for item in results if isinstance(item, CallFeatures)]
    errors = listing_errors + [item for item in results if isinstance(item, CallError)]
    if errors:
        LOG.warning("%d of %d listed calls failed; first: %s", len(errors), len(listing),
                    errors[0])
    if path is not None:
        _save_cache(path, calls=calls, errors=errors)
        LOG.info("cached features in %s (%.0f MB)", path, os.path.getsize(path) / 1e6)
    return ArchiveFeatures(root=root, calls=tuple(calls), errors=tuple(errors),
                           label_problems=tuple(label_problems))


def split_sizes(splits: Mapping[str, Sequence[CallFeatures]]) -> dict[str, dict[str, int]]:
    """Calls, windows and calls per label of each split, for metadata and reports."""
    return {name: {"calls": len(calls),
                   "windows": int(sum(call.n_windows for call in calls)),
                   **{label: sum(call.record.label == label for call in calls)
                      for label in spec.LABELS}}
            for name, calls in splits.items()}


def total_hours(calls: Sequence[CallFeatures]) -> float:
    """Summed duration of ``calls`` in hours."""
    return math.fsum(call.duration_s for call in calls) / 3600.0


# --- analysts' verdicts (call-triage review, docs/review.md) ---------------------------

#: Where ``call-triage review import`` keeps a night's verdicts under a report root:
#: ``<out>/reviews/run_date=<D>/`` holds :data:`REVIEW_FILE` (the night, its archive and
#: counts) and :data:`REVIEW_LABELS_FILE` (the verdicts that are labels, as
#: :func:`read_labels` reads them).
REVIEWS = "reviews"
REVIEW_FILE = "review.json"
REVIEW_LABELS_FILE = "labels.csv"


@dataclasses.dataclass(frozen=True)
class ReviewedNight:
    """One night's analysts' labels under the report root ``out``: ``labels`` as
    :func:`read_labels` gives them (call id → fields), for calls of ``archive``."""

    out: str
    run_date: str
    archive: str
    labels: dict[str, dict]


def reviewed_nights(out: str) -> list[ReviewedNight]:
    """Every night with imported verdicts under the report root ``out`` (local or
    ``gs://``), oldest first. Raises ConfigError when there is none, or when a night's
    files cannot be read."""
    pattern = FileSystems.join(out.rstrip("/"), REVIEWS, "*", REVIEW_FILE)
    paths = sorted(meta.path for meta in FileSystems.match([pattern])[0].metadata_list)
    if not paths:
        raise ConfigError(f"no reviewed night under {out} (no {pattern}); store analysts' "
                          f"verdicts with `call-triage review import`")
    nights = []
    for path in paths:
        try:
            with FileSystems.open(path) as handle:
                record = json.loads(handle.read().decode("utf-8"))
            run_date, archive = record["run_date"], record["archive"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"cannot read the review record {path}: {error!r}") from error
        labels = read_labels(f"{path.rsplit('/', 1)[0]}/{REVIEW_LABELS_FILE}")
        nights.append(ReviewedNight(out=out, run_date=run_date, archive=archive,
                                    labels=labels))
    return nights


def reviewed_features(night: ReviewedNight, *, config: FeatureConfig,
                      cache_dir: Optional[str], workers: Optional[int] = None,
                      label_mapping: Optional[LabelMapping] = None
                      ) -> tuple[CallFeatures, ...]:
    """The features of the calls ``night``'s analysts labelled (extracted from, or cached
    for, the night's archive), with those labels and in the ``train`` split. Raises
    ConfigError when the archive cannot be read, or a labelled call is not in it or fails
    to featurise."""
    if not night.labels:
        return ()
    where = f"reviewed night {night.run_date} under {night.out}"
    try:
        features = load_archive_features(night.archive, config=config, cache_dir=cache_dir,
                                         workers=workers, call_ids=night.labels,
                                         label_mapping=label_mapping)
    except ArchiveError as error:
        raise ConfigError(f"{where}: its archive cannot be read: {error}") from error
    failed = {error.call_id: error for error in features.errors}
    found = {call.record.call_id for call in features.calls}
    problems = [f"{call_id!r} {_absence(failed.get(call_id))}"
                for call_id in night.labels if call_id not in found]
    if problems:
        raise ConfigError(f"{where}: {len(problems)} reviewed call(s) of archive "
                          f"{night.archive} cannot be trained on: " + "; ".join(problems[:10]))
    labels = {call_id: {**fields, "split": "train"} for call_id, fields in night.labels.items()}
    return relabel(features.calls, labels, source="reviewed")


def _absence(error: Optional[CallError]) -> str:
    """Why a reviewed call has no features: not listed, or its failure."""
    return ("is not in the archive" if error is None else
            f"failed ({error.stage}: {error.error_type})")
