"""Probe: how far the synthetic corpus's own delivery draws separate emergencies.

Re-renders the calls of ``call-triage synth --calls N --seed S`` in memory with the
generator's random draws recorded — the caller's espeak-ng speed (words per minute) and
pitch, the speech-to-background SNR, the peak level, and how many of the scene's beds and
events are distress ones (a sound no everyday scene uses) — then fits a small network
(``delivery_probe.fit_network``) on the training split's draws and prints its accuracy at
0.5 on the test splits for growing sets of draws. It answers "is the information for the
target in the sound at all?"; no model can see these numbers, only their effect on the
audio. The recording wraps the generator's own functions for the run (``synth.corpus``'s
``channel`` and ``speech`` helpers, ``synth.sounds``'s bed and event tables); nothing is
written to disk.

Run: ``.venv/bin/python benchmarks/experiments/corpus_oracle.py --calls 2000 --seed 1
[--eval-calls 5000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import pathlib
import sys
from typing import Callable, Iterator, Sequence

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from benchmarks.experiments.delivery_probe import fit_network  # noqa: E402
from synth import corpus, sounds  # noqa: E402

#: The recorded draws, in column order.
DRAWS = ("speed_wpm", "pitch", "peak", "snr_db", "distress_beds", "distress_events")
#: The sets of draws compared, by name.
DRAW_SETS = (
    ("speed", ("speed_wpm",)),
    ("speed + pitch", ("speed_wpm", "pitch")),
    ("speed + pitch + peak level", ("speed_wpm", "pitch", "peak")),
    ("speed + pitch + peak level + SNR", ("speed_wpm", "pitch", "peak", "snr_db")),
    ("all of these + distress beds and events", DRAWS),
)


@dataclasses.dataclass
class _Recorder:
    """The draws of the call being rendered (the last caller voice wins: a long call's
    distress voice comes after its calm one)."""

    speed_wpm: float = np.nan
    pitch: float = np.nan
    peak: float = np.nan
    snr_db: float = np.nan
    distress_beds: int = 0
    distress_events: int = 0

    def reset(self) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, field.default)

    def row(self) -> list[float]:
        return [float(getattr(self, name)) for name in DRAWS]


def _everyday_sounds() -> tuple[set[str], set[str]]:
    everyday = [sounds.SCENES[name] for name in corpus.NORMAL_CATEGORIES]
    return ({bed for scene in everyday for bed in scene.beds},
            {event for scene in everyday for event in scene.events})


@contextlib.contextmanager
def _recording(recorder: _Recorder) -> Iterator[None]:
    """Within the block, the generator's helpers also write each call's draws into
    ``recorder``; the originals are restored on leaving it."""
    everyday_beds, everyday_events = _everyday_sounds()
    mix_at_snr, set_level = corpus.channel.mix_at_snr, corpus.channel.set_level
    deliver, beds, events = corpus.speech.deliver, dict(sounds.BEDS), dict(sounds.EVENTS)

    def recorded_mix(**kwargs):
        recorder.snr_db = kwargs["snr_db"]
        return mix_at_snr(**kwargs)

    def recorded_level(samples, *, peak):
        recorder.peak = peak
        return set_level(samples, peak=peak)

    def recorded_deliver(voice, *, style, rng):
        spoken = deliver(voice, style=style, rng=rng)
        recorder.speed_wpm, recorder.pitch = spoken.speed_wpm, spoken.pitch
        return spoken

    def counted(table: dict, name: str, make: Callable, everyday: set[str], field: str):
        def wrapper(*args, **kwargs):
            if name not in everyday:
                setattr(recorder, field, getattr(recorder, field) + 1)
            return make(*args, **kwargs)
        table[name] = wrapper

    corpus.channel.mix_at_snr, corpus.channel.set_level = recorded_mix, recorded_level
    corpus.speech.deliver = recorded_deliver
    for name, make in beds.items():
        counted(sounds.BEDS, name, make, everyday_beds, "distress_beds")
    for name, make in events.items():
        counted(sounds.EVENTS, name, make, everyday_events, "distress_events")
    try:
        yield
    finally:
        corpus.channel.mix_at_snr, corpus.channel.set_level = mix_at_snr, set_level
        corpus.speech.deliver = deliver
        sounds.BEDS.update(beds)
        sounds.EVENTS.update(events)


def recorded_draws(*, n_calls: int, seed: int, splits: Sequence[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Draws float64 (n, len(DRAWS)) and labels bool (n,) (emergency) of the planned
    calls of ``splits``, each rendered once."""
    recorder = _Recorder()
    rows, labels = [], []
    with _recording(recorder):
        for plan in corpus.plan_corpus(n_calls=n_calls, seed=seed):
            if plan.split in splits:
                recorder.reset()
                corpus.render_call(plan)
                rows.append(recorder.row())
                labels.append(plan.label == "emergency")
    return np.array(rows), np.array(labels)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="the training corpus's size")
    parser.add_argument("--seed", type=int, default=1, help="the corpora's seed")
    parser.add_argument("--eval-calls", type=int, action="append", default=[],
                        help="a further corpus size whose test split is scored (repeatable)")
    parser.add_argument("--fit-seed", type=int, default=1)
    args = parser.parse_args(argv)
    train = recorded_draws(n_calls=args.calls, seed=args.seed, splits=("train",))
    tests = {n: recorded_draws(n_calls=n, seed=args.seed, splits=("test",))
             for n in [args.calls] + args.eval_calls}
    names = [f"{n} calls: test ({labels.size})" for n, (_, labels) in tests.items()]
    print(f"fitted on the {train[1].size} training calls of --calls {args.calls} "
          f"--seed {args.seed}; accuracy at 0.5\n")
    print("| draws known | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for title, columns in DRAW_SETS:
        index = [DRAWS.index(c) for c in columns]
        predict = fit_network(train[0][:, index], train[1], seed=args.fit_seed)
        accuracies = [float(np.mean((predict(draws[:, index]) >= 0.5) == labels))
                      for draws, labels in tests.values()]
        print(f"| {title} | " + " | ".join(f"{a:.4f}" for a in accuracies) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
