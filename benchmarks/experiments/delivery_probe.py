"""Probe: do measured delivery cues add to the bundled model's emergency verdict?

The synthetic corpus speaks emergencies faster, higher and louder, in noisier places
(``synth/speech.py``, ``synth/corpus.py``); the bundle's remaining false alarms are calm
calls its audio branch hears as distress. This script measures a few delivery cues per
call straight from the audio and the transcript (:func:`measure_delivery`), fits a small
network on them over the training split (:func:`fit_network`), fuses its score
with the bundle's by logistic regression on the validation split (:func:`fit_fusion`),
chooses the emergency threshold on the fused validation scores (recall >= 0.98, as
``call-triage train`` does) and prints, side by side on each evaluation archive's test
split, the bundle alone at its own threshold and the bundle + delivery cues. The test
splits take no part in any fit.

Run: ``.venv/bin/python benchmarks/experiments/delivery_probe.py
--archive /work/data/corpus2000 [--eval-archive /work/data/corpus5000] [--channel caller|mix]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import re
import sys
from typing import Mapping, Sequence

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from models.bundle import load_bundle  # noqa: E402
from models.cli_train import DEFAULT_CACHE_DIR  # noqa: E402
from models.evaluate import (  # noqa: E402
    EMERGENCY_MIN_RECALL, binary_metrics, choose_threshold, roc_auc, score_calls,
    split_windows)
from transforms.archive import list_calls, open_audio, read_transcript  # noqa: E402
from transforms.audio import decode_audio  # noqa: E402
from transforms.records import CallRecord  # noqa: E402

SAMPLE_RATE_HZ = 16_000
N_FFT, HOP = 1024, 256  # 64 ms frames every 16 ms
SPEECH_BAND_HZ = (300.0, 3400.0)
F0_RANGE_HZ = (70.0, 450.0)
F0_STEP_OCTAVES = 0.04  # a frame is voiced when its f0 is this close to both neighbours'
_HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")

#: The cues of :func:`measure_delivery`, in order.
CUES = ("peak", "noise_floor_db", "speech_level_db", "snr_db", "active_share",
        "voiced_share", "f0_p10_hz", "f0_p25_hz", "f0_p50_hz", "f0_p75_hz", "f0_p90_hz",
        "f0_iqr_hz", "centroid_hz", "syllables_per_voiced_s", "syllables_per_active_s",
        "modulation_hz")


def measure_delivery(samples: np.ndarray, *, sample_rate_hz: int, transcript: str
                     ) -> np.ndarray:
    """Delivery cues of one call: float64 (len(CUES),), NaN where undefined.

    ``samples``: float32 (n,) mono at ``sample_rate_hz``. Frames are 64 ms every 16 ms.
    A frame is active when its 300–3400 Hz energy (dB) is at least 6 dB above the call's
    10th percentile and within 15 dB of its 95th (noise floor and speech level); voiced
    when also its YIN f0 (70–450 Hz) lies within 0.04 octave of both neighbours'.
    Speaking rate is the transcript's Hangul syllables per voiced (and per active) second;
    the modulation rate is the strongest 2–10 Hz component of the band-energy envelope.
    """
    import librosa

    power = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=sample_rate_hz, n_fft=N_FFT)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    energy_db = 10.0 * np.log10(power[band].sum(axis=0) + 1e-10)
    floor_db, level_db = np.percentile(energy_db, [10, 95])
    active = energy_db > max(floor_db + 6.0, level_db - 15.0)
    f0 = librosa.yin(samples, fmin=F0_RANGE_HZ[0], fmax=F0_RANGE_HZ[1], sr=sample_rate_hz,
                     frame_length=N_FFT, hop_length=HOP)
    n = min(f0.size, active.size)
    f0, active, energy_db = f0[:n], active[:n], energy_db[:n]
    step = np.abs(np.diff(np.log2(f0)))
    stable = np.zeros(n, dtype=bool)
    stable[1:-1] = (step[:-1] < F0_STEP_OCTAVES) & (step[1:] < F0_STEP_OCTAVES)
    voiced = active & stable
    f0_quantiles = (np.percentile(f0[voiced], [10, 25, 50, 75, 90]) if voiced.sum() > 5
                    else np.full(5, np.nan))
    centroid = librosa.feature.spectral_centroid(S=power, sr=sample_rate_hz)[0][:n]
    frame_s = HOP / sample_rate_hz
    syllables = len(_HANGUL_SYLLABLE.findall(transcript))
    envelope = (energy_db - energy_db.mean()) * np.hanning(n)
    spectrum = np.abs(np.fft.rfft(envelope))
    rates = np.fft.rfftfreq(n, frame_s)
    in_range = (rates >= 2.0) & (rates <= 10.0)
    return np.array([
        float(np.abs(samples).max(initial=0.0)), floor_db, level_db, level_db - floor_db,
        active.mean(), voiced.mean(), *f0_quantiles, f0_quantiles[3] - f0_quantiles[1],
        float(np.median(centroid[active])) if active.any() else np.nan,
        syllables / max(voiced.sum() * frame_s, 0.3),
        syllables / max(active.sum() * frame_s, 0.3),
        float(rates[in_range][np.argmax(spectrum[in_range])]) if in_range.any() else np.nan,
    ], dtype=np.float64)


def _measure_record(job: tuple[CallRecord, int | None]) -> np.ndarray:
    record, channel = job
    with open_audio(record.audio_uri) as audio_file:
        waveform = decode_audio(audio_file, name=record.audio_uri, channel=channel,
                                target_hz=SAMPLE_RATE_HZ)
    return measure_delivery(waveform.samples[0], sample_rate_hz=SAMPLE_RATE_HZ,
                            transcript=read_transcript(record)[0])


def measure_archive(archive: str, *, splits: Sequence[str], channel: int | None,
                    workers: int) -> dict[str, tuple[CallRecord, np.ndarray]]:
    """call_id -> (record, cues) for every labelled call of ``archive`` in ``splits``."""
    records = [r for r in list_calls(archive)
               if isinstance(r, CallRecord) and r.label and r.split in splits]
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        cues = list(pool.map(_measure_record, [(r, channel) for r in records], chunksize=16))
    return {r.call_id: (r, c) for r, c in zip(records, cues)}


def fit_network(features: np.ndarray, labels: np.ndarray, *, seed: int):
    """A 32-16 ReLU network (L2 1e-3) with a sigmoid output over standardised
    ``features`` (n, k) (NaN → the training median), fitted on them → ``labels`` bool (n,)
    for 300 epochs. Returns a function features (m, k) → emergency probability (m,)."""
    import keras

    keras.utils.set_random_seed(seed)
    median = np.nanmedian(features, axis=0)

    def filled(values: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(values), median, values).astype(np.float32)

    normalise = keras.layers.Normalization()
    normalise.adapt(filled(features))
    l2 = keras.regularizers.L2(1e-3)
    model = keras.Sequential([
        keras.Input((features.shape[1],)), normalise,
        keras.layers.Dense(32, activation="relu", kernel_regularizer=l2),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=l2),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(filled(features), labels.astype(np.float32), epochs=300, batch_size=64,
              verbose=0)
    return lambda values: model.predict(filled(values), batch_size=1024, verbose=0)[:, 0]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_logistic(features: np.ndarray, labels: np.ndarray, *, l2: float,
                 iterations: int = 50) -> np.ndarray:
    """Logistic regression of ``labels`` (bool (n,)) on ``features`` (n, k), L2 penalty
    ``l2`` on the weights (not the bias), by Newton's method. Returns (bias, k weights)."""
    x = np.column_stack([np.ones(labels.size), features])
    y = labels.astype(np.float64)
    penalty = np.diag([0.0] + [l2] * features.shape[1])
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-x @ beta))
        gradient = x.T @ (p - y) + penalty @ beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        beta -= np.linalg.solve(hessian, gradient)
    return beta


def fit_fusion(scores: Sequence[np.ndarray], labels: np.ndarray, *, l2: float = 1.0
               ) -> np.ndarray:
    """:func:`fit_logistic` on the logits of ``scores`` (each a probability (n,)).
    Returns (bias, weight per score)."""
    return fit_logistic(np.column_stack([_logit(s) for s in scores]), labels, l2=l2)


def fused_score(beta: np.ndarray, scores: Sequence[np.ndarray]) -> np.ndarray:
    """The fused emergency probability (n,) of :func:`fit_fusion`'s ``beta``."""
    z = beta[0] + sum(w * _logit(s) for w, s in zip(beta[1:], scores))
    return 1 / (1 + np.exp(-z))


def bundle_scores(bundle, *, archive: str, split: str) -> dict[str, float]:
    """call_id -> the bundle's call-level emergency score on one split."""
    windows, _ = split_windows(bundle, archive=archive, split=split,
                               cache_dir=DEFAULT_CACHE_DIR)
    return {call.record.call_id: scores.emergency_score
            for call, scores in zip(windows.calls, score_calls(bundle, windows).calls)}


def _split(measured: Mapping[str, tuple[CallRecord, np.ndarray]], split: str
           ) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = [i for i, (r, _) in measured.items() if r.split == split]
    return (ids, np.array([measured[i][1] for i in ids]),
            np.array([measured[i][0].label == "emergency" for i in ids]))


def _row(name: str, metrics: Mapping) -> str:
    c = metrics["confusion_matrix"]
    return (f"| {name} | {metrics['n']} | {metrics['threshold']:.3f} | "
            f"{metrics['accuracy']:.4f} | {metrics['precision']:.4f} | {metrics['recall']:.4f} "
            f"| {metrics['roc_auc']:.4f} | {c['fp']} | {c['fn']} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="models/bundled/multimodal")
    parser.add_argument("--archive", required=True,
                        help="labelled archive whose train/validation splits fit the probe")
    parser.add_argument("--eval-archive", action="append", default=[],
                        help="further archives whose test split is scored (repeatable)")
    parser.add_argument("--channel", choices=("caller", "mix"), default="caller",
                        help="measure channel 0 (the caller's, in stereo calls) or the mix")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    channel = 0 if args.channel == "caller" else None
    bundle = load_bundle(args.bundle)
    measured = measure_archive(args.archive, splits=("train", "validation", "test"),
                               channel=channel, workers=args.workers)
    _, train_cues, train_labels = _split(measured, "train")
    delivery = fit_network(train_cues, train_labels, seed=args.seed)
    val_ids, val_cues, val_labels = _split(measured, "validation")
    val_bundle = bundle_scores(bundle, archive=args.archive, split="validation")
    val_scores = [np.array([val_bundle[i] for i in val_ids]), delivery(val_cues)]
    beta = fit_fusion(val_scores, val_labels)
    threshold = choose_threshold(labels=val_labels, scores=fused_score(beta, val_scores),
                                 min_recall=EMERGENCY_MIN_RECALL)
    print(f"bundle {bundle.model_version}; delivery cues from the {args.channel} channel; "
          f"{len(train_labels)} training calls; fusion on {len(val_labels)} validation "
          f"calls: bias {beta[0]:.3f}, bundle logit x{beta[1]:.3f}, delivery logit "
          f"x{beta[2]:.3f}; delivery ROC AUC on validation "
          f"{roc_auc(labels=val_labels, scores=val_scores[1]):.4f}")
    print("\n| archive, test split: verdict | calls | threshold | accuracy | precision "
          "| recall | ROC AUC | false alarms | missed |\n|---|---|---|---|---|---|---|---|---|")
    for archive in [args.archive] + args.eval_archive:
        tested = (measured if archive == args.archive
                  else measure_archive(archive, splits=("test",), channel=channel,
                                       workers=args.workers))
        ids, cues, labels = _split(tested, "test")
        by_id = bundle_scores(bundle, archive=archive, split="test")
        scores = [np.array([by_id[i] for i in ids]), delivery(cues)]
        name = pathlib.Path(archive).name
        print(_row(f"{name}: bundle", binary_metrics(
            labels=labels, scores=scores[0], threshold=bundle.thresholds["emergency"])))
        print(_row(f"{name}: delivery cues alone, at 0.5", binary_metrics(
            labels=labels, scores=scores[1], threshold=0.5)))
        print(_row(f"{name}: bundle + delivery cues", binary_metrics(
            labels=labels, scores=fused_score(beta, scores), threshold=threshold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
