"""The night's report: one self-contained HTML page for the analysts, written from the
published reports (docs/reports.md) under ``<out>/report/run_date=<D>/index.html``.

It shows the run (counts by flag, model, thresholds), the flagged calls with their scores,
evidence and reasons, the errors, score/category/hour charts (inline SVG), the last nights
side by side, and a drift check (:func:`population_stability`). With audio clips it embeds
each flagged call's evidence window as telephone-quality Ogg Vorbis. Nothing in the page
loads from the network.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import html
import json
import logging
import math
import os
import zoneinfo
from collections import Counter
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from pipelines import publish, reports
from pipelines.rules import FLAGS
from pipelines.summary import FLAG_COUNTS
from transforms.archive import open_audio
from transforms.audio import decode_audio, encode_audio
from transforms.errors import CallInputError, ConfigError, ReportError
from transforms.spec import CATEGORIES

LOG = logging.getLogger(__name__)

INDEX_FILE = "index.html"
#: What the trend and the drift check read of the earlier nights.
TREND_COLUMNS = ("call_id", "emergency_score", "flag")
#: Nights shown side by side, tonight included.
DEFAULT_NIGHTS = 7
#: Score bins of the drift check: ten of equal width on [0, 1], as the bundle's calibration.
SCORE_BINS = np.linspace(0.0, 1.0, 11)
#: Population stability index above which tonight's scores count as shifted (the usual
#: reading: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one).
PSI_WARNING = 0.25
#: Calls added to every bin of both distributions before the PSI (additive smoothing).
PSI_PRIOR = 0.5
#: Fewest calls in a night for its PSI to be judged: a smaller sample of the very same
#: distribution often lands above the warning by chance.
PSI_MIN_CALLS = 200
#: Rate of the embedded clips (telephone bandwidth).
CLIP_RATE_HZ = 8000
_FLAG_COLOURS = {"emergency": "#c62828", "prank_candidate": "#ef6c00", "silent": "#6d4c41",
                 "normal": "#607d8b"}
CALL_COLUMNS = ["call_id", "audio_uri", "started_at", "line", "duration_s", "speech_s",
                 "emergency_score", "audio_score", "text_score", "category", "category_score",
                 "prank_score", "prank_reasons", "prank_reason_scores", "evidence_start_s",
                 "evidence_end_s", "flag", "audio_warnings"]


@dataclasses.dataclass(frozen=True)
class Night:
    """One published night: its summary, its ``calls`` rows and its ``errors`` rows."""

    run_date: str
    summary: dict[str, Any]
    calls: list[dict[str, Any]]
    errors: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Drift:
    """Tonight's emergency scores against a reference: what it was against, the PSI, and
    the night's number of calls."""

    against: str
    psi: float
    n_calls: int

    @property
    def judged(self) -> bool:
        """Whether the night has enough calls (:data:`PSI_MIN_CALLS`) to judge its PSI."""
        return self.n_calls >= PSI_MIN_CALLS

    @property
    def shifted(self) -> bool:
        return self.judged and self.psi > PSI_WARNING


def report_path(out: str, run_date: str) -> str:
    """``<out>/report/run_date=<run_date>/index.html``."""
    return FileSystems.join(reports.partition_dir(out, reports.HTML_REPORT, run_date),
                            INDEX_FILE)


def published_nights(out: str) -> list[str]:
    """The run dates under ``out`` with a published summary, oldest first."""
    pattern = FileSystems.join(out, publish.SUMMARIES, "run_date=*", publish.SUMMARY_FILE)
    dates = {meta.path.rsplit("/", 2)[-2].removeprefix("run_date=")
             for meta in FileSystems.match([pattern])[0].metadata_list}
    return sorted(dates)


def read_summary(out: str, run_date: str) -> dict[str, Any]:
    """The published summary of ``run_date``; ReportError when the night is not published."""
    path = FileSystems.join(reports.partition_dir(out, publish.SUMMARIES, run_date),
                            publish.SUMMARY_FILE)
    if not FileSystems.exists(path):
        raise ReportError(f"no published night {run_date} under {out} (no {path})")
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def load_night(out: str, run_date: str, *, columns: Sequence[str] = CALL_COLUMNS) -> Night:
    """The published night ``run_date`` under ``out``, with ``columns`` of its calls.
    Raises ReportError when the night is not published or its calls report lacks one of
    ``columns`` (a night written by an older version)."""
    summary = read_summary(out, run_date)
    try:
        calls = reports.read_report(out, reports.CALLS, run_date, columns=columns)
    except pa.ArrowInvalid:
        raise ReportError(f"the calls report of {run_date} under {out} lacks some of the "
                          f"columns {list(columns)}; run that night again") from None
    errors = reports.read_report(out, reports.ERRORS, run_date,
                                 columns=["call_id", "stage", "error_type", "message"])
    return Night(run_date=run_date, summary=summary, calls=calls.to_pylist(),
                 errors=errors.to_pylist())


def bin_counts(scores: Sequence[float]) -> np.ndarray:
    """How many ``scores`` fall in each :data:`SCORE_BINS` bin: int64 (10,)."""
    counts, _ = np.histogram(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0),
                             bins=SCORE_BINS)
    return counts


def smoothed_shares(counts: np.ndarray) -> np.ndarray:
    """Bin shares with :data:`PSI_PRIOR` calls added to every bin, so an empty bin of a
    small sample neither makes the PSI infinite nor dominates it: float64, summing to 1."""
    counts = np.asarray(counts, dtype=np.float64) + PSI_PRIOR
    return counts / counts.sum()


def population_stability(reference: np.ndarray, observed: np.ndarray) -> float:
    """PSI = Σ (o - r) · ln(o / r) over the bins of two positive share vectors (each
    summing to 1); 0 means the same distribution."""
    if reference.shape != observed.shape:
        raise ValueError(f"shares of shapes {reference.shape} and {observed.shape}")
    return float(np.sum((observed - reference) * np.log(observed / reference)))


def validation_counts(bundle: str) -> Optional[np.ndarray]:
    """The validation calls per score bin recorded in the bundle's ``metrics.json``
    (``validation.calibration.calls_per_bin``, or ``calls`` when that has all ten bins),
    or None, with a warning, when the bundle records no such histogram."""
    path = FileSystems.join(bundle, "metrics.json")
    try:
        with FileSystems.open(path) as handle:
            calibration = json.loads(handle.read().decode("utf-8"))["validation"]["calibration"]
        counts = np.asarray(calibration.get("calls_per_bin", calibration["calls"]),
                            dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as error:
        LOG.warning("no validation score reference in %s (%s)", path, type(error).__name__)
        return None
    if counts.shape != (len(SCORE_BINS) - 1,):
        LOG.warning("the validation histogram in %s has %d bins, not %d: no reference",
                    path, counts.size, len(SCORE_BINS) - 1)
        return None
    return counts


def drift_checks(night: Night, *, earlier: Sequence[Night]) -> list[Drift]:
    """Tonight's emergency-score PSI against the bundle's validation calls and against the
    earlier nights' calls pooled (each when there is such a reference)."""
    if not night.calls:
        return []
    tonight = smoothed_shares(bin_counts([row["emergency_score"] for row in night.calls]))
    n_calls = len(night.calls)
    checks = []
    reference = validation_counts(night.summary["model"]["bundle"])
    if reference is not None:
        checks.append(Drift("the bundle's validation calls", population_stability(
            smoothed_shares(reference), tonight), n_calls))
    before = [row["emergency_score"] for other in earlier for row in other.calls]
    if before:
        checks.append(Drift(f"the {len(earlier)} nights before", population_stability(
            smoothed_shares(bin_counts(before)), tonight), n_calls))
    return checks


def trend_row(night: Night) -> dict[str, Any]:
    """One night's counts, flag rates and mean scores."""
    counts = night.summary["counts"]
    scores = [row["emergency_score"] for row in night.calls]
    n = max(counts["input"], 1)
    return {"run_date": night.run_date, "calls": counts["input"],
            **{flag: counts[key] for flag, key in FLAG_COUNTS.items()},
            "errors": counts["errors"],
            **{f"{flag}_rate": counts[key] / n for flag, key in FLAG_COUNTS.items()},
            "mean_emergency_score": float(np.mean(scores)) if scores else None}


def evidence_clip(audio_uri: str, *, start_s: float, end_s: float) -> bytes:
    """The call's audio from ``start_s`` to ``end_s`` as mono 8 kHz Ogg Vorbis bytes.
    Raises a CallInputError subclass when the file cannot be read."""
    with open_audio(audio_uri) as handle:
        waveform = decode_audio(handle, name=audio_uri, target_hz=CLIP_RATE_HZ)
    samples = waveform.samples[0, int(start_s * CLIP_RATE_HZ):int(math.ceil(end_s * CLIP_RATE_HZ))]
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 1.0:
        samples = samples / peak
    return encode_audio(samples, sample_rate_hz=CLIP_RATE_HZ, fmt="OGG", subtype="VORBIS")


# --- HTML ---------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _score(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3f}"


def _local_time(value: Optional[dt.datetime], zone: dt.tzinfo) -> str:
    return "–" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def bar_chart_svg(values: Mapping[str, float], *, title: str, colour: str = "#37474f"
                  ) -> str:
    """A horizontal bar chart: one labelled bar per key, scaled to the largest value."""
    width, row, label_w = 420, 20, 150
    top = max(values.values(), default=0) or 1
    bars = []
    for index, (label, value) in enumerate(values.items()):
        y = 4 + index * row
        length = (width - label_w - 50) * value / top
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row - 6}" '
            f'fill="{colour}"/><text x="{label_w + length + 4:.1f}" y="{y + 12}">'
            f'{value:g}</text>')
    height = 8 + row * len(values)
    return (f'<svg role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
            f'width="100%" font-size="13">{"".join(bars)}</svg>')


def score_histogram_svg(calls: Sequence[Mapping[str, Any]], *, threshold: float) -> str:
    """Emergency scores in :data:`SCORE_BINS`, stacked by flag, with the threshold marked."""
    width, height, left, bottom = 420, 220, 30, 20
    counts = {flag: np.histogram([row["emergency_score"] for row in calls
                                  if row["flag"] == flag], bins=SCORE_BINS)[0]
              for flag in FLAGS}
    top = max(int(sum(counts[flag][i] for flag in FLAGS)) for i in range(len(SCORE_BINS) - 1))
    scale = (height - bottom - 10) / max(top, 1)
    bar_w = (width - left) / (len(SCORE_BINS) - 1)
    parts = []
    for i in range(len(SCORE_BINS) - 1):
        y = height - bottom
        for flag in FLAGS:
            h = counts[flag][i] * scale
            if h:
                y -= h
                parts.append(f'<rect x="{left + i * bar_w + 1:.1f}" y="{y:.1f}" '
                             f'width="{bar_w - 2:.1f}" height="{h:.1f}" '
                             f'fill="{_FLAG_COLOURS[flag]}"><title>{flag}: '
                             f'{counts[flag][i]}</title></rect>')
        parts.append(f'<text x="{left + i * bar_w:.1f}" y="{height - 5}">'
                     f'{SCORE_BINS[i]:.1f}</text>')
    x = left + threshold * (width - left)
    parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="5" y2="{height - bottom}" '
                 f'stroke="#000" stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="14">'
                 f'threshold {threshold:.2f}</text>')
    parts.append(f'<text x="2" y="14">{top}</text>')
    return (f'<svg role="img" aria-label="emergency scores by flag" viewBox="0 0 {width} '
            f'{height}" width="100%" font-size="12">{"".join(parts)}</svg>')


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans KR","NanumGothic",sans-serif;
margin:0 auto;max-width:1100px;padding:12px;color:#212121;line-height:1.4}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ccc;border-radius:6px;
padding:6px 12px;min-width:110px}.card b{display:block;font-size:1.5em}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{border-bottom:1px solid #e0e0e0;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:6px 10px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
.note{color:#555;font-size:.85em}audio{width:220px;height:32px}figure{margin:0}
.key{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px}
"""


def _legend() -> str:
    return "".join(f'<span class="key" style="background:{colour}"></span>{_e(flag)}'
                   for flag, colour in _FLAG_COLOURS.items())


def _table(headers: Sequence[str], rows: Sequence[str], *, table_id: str) -> str:
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = "".join(rows) or f'<tr><td colspan="{len(headers)}">none</td></tr>'
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _clip_cell(row: Mapping[str, Any], clips: Mapping[str, Any]) -> str:
    if row["call_id"] not in clips:
        return ""
    clip = clips[row["call_id"]]
    if isinstance(clip, str):
        return f'<td class="note">clip unavailable: {_e(clip)}</td>'
    data = base64.b64encode(clip).decode("ascii")
    seconds = row["evidence_end_s"] - row["evidence_start_s"]
    return (f'<td><audio controls preload="metadata" data-seconds="{seconds:.3f}" '
            f'src="data:audio/ogg;base64,{data}"></audio></td>')


def _reasons(row: Mapping[str, Any]) -> str:
    return ", ".join(f"{_e(name)} {score:.2f}" for name, score
                     in zip(row["prank_reasons"], row["prank_reason_scores"])) or "–"


def _evidence(row: Mapping[str, Any]) -> str:
    return f'{row["evidence_start_s"]:.1f}–{row["evidence_end_s"]:.1f} s'


def _flag_rows(calls, flag: str, cells, *, zone, sort_by: Optional[str] = None,
               clips: Optional[Mapping[str, Any]] = None) -> list[str]:
    """The table rows of the calls flagged ``flag`` (highest ``sort_by`` first): call id,
    local time and line, then ``cells(row)`` (HTML cells), then the clip when there is one."""
    rows = [row for row in calls if row["flag"] == flag]
    if sort_by:
        rows.sort(key=lambda row: -row[sort_by])
    return [f'<tr data-call-id="{_e(row["call_id"])}" data-flag="{flag}">'
            f'<td>{_e(row["call_id"])}</td><td>{_local_time(row["started_at"], zone)}</td>'
            f'<td>{_e(row["line"] or "–")}</td>'
            + "".join(f"<td>{cell}</td>" for cell in cells(row))
            + f"{_clip_cell(row, clips or {})}</tr>" for row in rows]


def _emergency_cells(row: Mapping[str, Any]) -> list[str]:
    return [f'{_e(row["category"])} ({row["category_score"]:.2f})',
            _score(row["emergency_score"]), _score(row["audio_score"]),
            _score(row["text_score"]), _evidence(row), _reasons(row)]


def _prank_cells(row: Mapping[str, Any]) -> list[str]:
    return [_reasons(row), _score(row["prank_score"]), _score(row["emergency_score"]),
            _evidence(row)]


def _silent_cells(row: Mapping[str, Any]) -> list[str]:
    return [f'{row["duration_s"]:.1f} s', _score(row["speech_s"])]


def _error_rows(errors) -> list[str]:
    return [f'<tr data-call-id="{_e(row["call_id"])}" data-stage="{_e(row["stage"])}">'
            f'<td>{_e(row["call_id"])}</td><td>{_e(row["stage"])}</td>'
            f'<td>{_e(row["error_type"])}</td><td>{_e(row["message"])}</td></tr>'
            for row in errors]


def _trend_table(trend: Sequence[Mapping[str, Any]]) -> str:
    rows = [f'<tr data-run-date="{_e(row["run_date"])}"><td>{_e(row["run_date"])}</td>'
            f'<td>{row["calls"]}</td>'
            + "".join(f'<td>{row[flag]} ({row[flag + "_rate"]:.0%})</td>' for flag in FLAGS)
            + f'<td>{row["errors"]}</td><td>{_score(row["mean_emergency_score"])}</td></tr>'
            for row in trend]
    return _table(["night", "calls", *FLAGS, "errors", "mean emergency score"], rows,
                  table_id="trend")


def _drift_verdict(check: Drift) -> str:
    if not check.judged:
        return (f"Too few calls to judge ({check.n_calls}; from {PSI_MIN_CALLS}): tonight's "
                f"emergency scores against {_e(check.against)}, PSI {check.psi:.3f}")
    state = "Shifted" if check.shifted else "Stable"
    return (f"{state}: tonight's emergency scores against {_e(check.against)}, PSI "
            f"{check.psi:.3f} (warning above {PSI_WARNING})")


def _drift_block(checks: Sequence[Drift]) -> str:
    if not checks:
        return '<p class="note">No reference to compare tonight\'s scores with.</p>'
    items = "".join(f'<p class="{"warn" if check.shifted else "ok"}" '
                    f'data-psi="{check.psi:.4f}">{_drift_verdict(check)}.</p>'
                    for check in checks)
    return (items + '<p class="note">PSI (population stability index) compares the share of '
            'calls in ten score bins. The validation calls mix labels as the training corpus '
            'does, so a real night usually differs from them more than from earlier '
            'nights.</p>')


def render_report(night: Night, *, trend: Sequence[Mapping[str, Any]],
                  drift: Sequence[Drift], clips: Mapping[str, Any], generated_at: dt.datetime
                  ) -> str:
    """The page of ``night``: ``trend`` rows (:func:`trend_row`, oldest first), ``drift``
    checks, and ``clips`` (call id → Ogg bytes, or the reason there is none)."""
    summary, calls = night.summary, night.calls
    zone = zoneinfo.ZoneInfo(summary["options"]["timezone"])
    counts = summary["counts"]
    model = summary["model"]
    rules = summary["options"]["prank_rules"]
    cards = "".join(
        f'<div class="card" data-count="{key}"><b>{counts[source]}</b>{_e(label)}</div>'
        for key, source, label in (("input", "input", "calls"),
                                   ("emergency", "emergencies", "emergencies"),
                                   ("prank_candidate", "prank_candidates", "prank candidates"),
                                   ("silent", "silent", "silent"), ("normal", "normal", "normal"),
                                   ("errors", "errors", "errors")))
    categories = Counter(row["category"] for row in calls if row["flag"] == "emergency")
    hours = Counter(row["started_at"].astimezone(zone).hour for row in calls
                    if row["started_at"] is not None)
    by_stage = Counter(row["stage"] for row in night.errors)
    audio_note = ("This page embeds call audio (each flagged call's evidence window): "
                  "handle it as you would the recordings." if clips else
                  "No audio is embedded: recordings are sensitive. call-triage report "
                  "--include-audio-clips adds each flagged call's evidence window.")
    clip_header = ["evidence audio"] if clips else []
    return f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>call-triage — night of {_e(night.run_date)}</title><style>{_CSS}</style></head>
<body>
<h1>call-triage — night of {_e(night.run_date)}</h1>
<p>Run {_e(summary["run_id"])}, finished {_e(summary["finished_at"])} UTC; model
{_e(model["name"])} {_e(model["version"])}; emergency threshold
<span id="threshold">{model["emergency_threshold"]:.3f}</span>; a prank candidate needs a
reason scoring at least {rules["flag_min"]}. Times are in {_e(zone.key)}. Report made
{generated_at:%Y-%m-%d %H:%M} UTC.</p>
<div class="cards">{cards}</div>
<h2>Drift</h2>{_drift_block(drift)}
<h2>Last nights</h2>{_trend_table(trend)}
<h2>Charts</h2><div class="charts">
<figure><figcaption>Emergency scores by flag{_legend()}</figcaption>
{score_histogram_svg(calls, threshold=model["emergency_threshold"])}</figure>
<figure><figcaption>Emergencies by category</figcaption>
{bar_chart_svg(dict(categories.most_common()) or {"none": 0}, title="categories",
               colour=_FLAG_COLOURS["emergency"])}</figure>
<figure><figcaption>Calls per hour of the day</figcaption>
{bar_chart_svg({f"{hour:02d}:00": hours[hour] for hour in sorted(hours)} or {"no times": 0},
               title="calls per hour")}</figure>
</div>
<h2>Emergencies, highest score first</h2>
{_table(["call", "time", "line", "category", "emergency", "audio", "text", "evidence",
         "prank reasons", *clip_header],
        _flag_rows(calls, "emergency", _emergency_cells, zone=zone, sort_by="emergency_score",
                   clips=clips), table_id="emergencies")}
<h2>Prank candidates</h2>
{_table(["call", "time", "line", "reasons (score)", "prank score", "emergency", "evidence",
         *clip_header],
        _flag_rows(calls, "prank_candidate", _prank_cells, zone=zone, sort_by="prank_score",
                   clips=clips), table_id="prank-candidates")}
<h2>Silent calls</h2>
{_table(["call", "time", "line", "duration", "speech (s)"],
        _flag_rows(calls, "silent", _silent_cells, zone=zone), table_id="silent")}
<h2>Errors</h2>
<p>{_e(", ".join(f"{stage}: {n}" for stage, n in sorted(by_stage.items())) or "none")}</p>
{_table(["call", "stage", "error", "message"], _error_rows(night.errors), table_id="errors")}
<p class="note">{_e(audio_note)} Categories: {_e(", ".join(CATEGORIES))}.</p>
</body></html>
"""


def collect_clips(calls: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The evidence clip of every emergency and prank candidate (call id → Ogg bytes), or
    why it could not be made (a clip is never worth failing the report for)."""
    clips: dict[str, Any] = {}
    for row in calls:
        if row["flag"] not in ("emergency", "prank_candidate"):
            continue
        try:
            clips[row["call_id"]] = evidence_clip(row["audio_uri"],
                                                  start_s=row["evidence_start_s"],
                                                  end_s=row["evidence_end_s"])
        except CallInputError as error:
            clips[row["call_id"]] = f"{type(error).__name__}: {error}"
    return clips


def write_report(out: str, run_date: str, *, include_audio_clips: bool = False,
                 nights: int = DEFAULT_NIGHTS) -> str:
    """Write the report of the published night ``run_date`` under ``out``; returns its
    path. Raises ReportError when that night is not published, ConfigError for nights < 1."""
    if nights < 1:
        raise ConfigError(f"nights={nights} must be >= 1")
    out = out.rstrip("/")
    night = load_night(out, run_date)
    earlier_dates = [date for date in published_nights(out) if date < run_date][-(nights - 1):]
    earlier = ([load_night(out, date, columns=TREND_COLUMNS) for date in earlier_dates]
               if nights > 1 else [])
    page = render_report(
        night, trend=[trend_row(other) for other in [*earlier, night]],
        drift=drift_checks(night, earlier=earlier),
        clips=collect_clips(night.calls) if include_audio_clips else {},
        generated_at=dt.datetime.now(dt.timezone.utc))
    path = report_path(out, run_date)
    if "://" not in path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with FileSystems.create(path, mime_type="text/html") as handle:
        handle.write(page.encode("utf-8"))
    return path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="report root of the nightly job")
    parser.add_argument("--run-date", default=None,
                        help="the night (YYYY-MM-DD; default: the latest published)")
    parser.add_argument("--include-audio-clips", action="store_true",
                        help="embed each flagged call's evidence window (8 kHz Ogg); off "
                             "by default because recordings are sensitive")
    parser.add_argument("--nights", type=int, default=DEFAULT_NIGHTS,
                        help="nights shown side by side, tonight included (default: "
                             "%(default)s)")


def night_of(out: str, run_date: Optional[str]) -> str:
    """``run_date`` checked (:func:`pipelines.reports.checked_run_date`), or else the latest
    published night under ``out``; ReportError when none is published."""
    if run_date is not None:
        return reports.checked_run_date(run_date)
    nights = published_nights(out)
    if not nights:
        raise ReportError(f"no published night under {out}")
    return nights[-1]


def run_command(args: argparse.Namespace) -> int:
    out = args.out.rstrip("/")
    print(write_report(out, night_of(out, args.run_date),
                       include_audio_clips=args.include_audio_clips, nights=args.nights))
    return 0
