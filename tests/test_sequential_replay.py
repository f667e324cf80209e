"""Calibration of the product's verdict through its own replay path, on synthetic curves.

The looks are replayed by ``rltransfer.analysis.looks.method_looks`` (what a study runs between
looks and what ``rltransfer report`` replays), and the intervals come from ``analyze``: these
tests measure the rule users get, not a re-implementation of it.
"""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis.curves import Curve
from rltransfer.analysis.looks import LookPlan, method_looks, verdict_units
from rltransfer.analysis.sequential import DEFAULT_SPENDING, nominal_alphas
from rltransfer.analysis.summary import analyze

GRID = np.array([0, 100, 200, 300])
SHAPE = np.array([0.0, 0.5, 0.8, 1.0])  # a learning curve's shape; its area is a constant
LOOKS = (5, 10, 15, 20)


def _curve(level: float) -> Curve:
    g = len(GRID)
    return Curve(GRID, SHAPE + level, np.zeros(g), np.full(g, 10, dtype=np.int64))


def _study(rng: np.random.Generator, d: float, n: int = 20) -> dict[str, dict[int, Curve]]:
    """One synthetic study: per-seed areas N(0, 1) for scratch and N(d, 1) for the method."""
    base, meth = rng.normal(0.0, 1.0, n), rng.normal(d, 1.0, n)
    return {
        "scratch": {s: _curve(base[s]) for s in range(n)},
        "method": {s: _curve(meth[s]) for s in range(n)},
    }


def _plan() -> LookPlan:
    bounds = nominal_alphas(LOOKS, 0.05, DEFAULT_SPENDING)
    return LookPlan(list(range(20)), LOOKS, tuple(bounds), DEFAULT_SPENDING, 0.05)


def _replay(d: float, studies: int, seed: int) -> tuple[float, float]:
    """(rate of verdicts in the effect's direction — any verdict when d = 0 —, mean seed pairs
    at the deciding look) over ``studies`` replayed studies."""
    rng = np.random.default_rng(seed)
    plan = _plan()
    hits, stops = 0, []
    for _ in range(studies):
        looks = method_looks(_study(rng, d), "method", "scratch", plan)
        last = looks[-1]
        hits += last["decision"] == "positive" if d > 0 else last["decision"] != "inconclusive"
        stops.append(last["seeds"])
    return hits / studies, float(np.mean(stops))


def test_replayed_looks_keep_the_false_positive_rate_over_all_looks():
    """2,000 A/A studies with looks at 5, 10, 15 and 20 seed pairs: at most 5% decide."""
    rate, _ = _replay(0.0, 2000, seed=1)
    # the rule's exact rate is ~4.3% (tests/test_sequential.py, 200,000 studies); 2,000 studies
    # put 99% of measurements below 5.6%, and a rule at 5% would exceed 5.6% only ~10% of runs
    assert rate <= 0.056, rate


@pytest.mark.slow
def test_replayed_looks_have_power_and_stop_early():
    power, _ = _replay(1.0, 2000, seed=2)
    assert power >= 0.78, power  # ~0.85 on 200,000 studies; 2,000 give ± 0.02 (2.5 SE)
    _, mean_stop = _replay(1.5, 2000, seed=3)
    assert mean_stop <= 10.7, mean_stop  # 10.28 on 200,000 studies (the issue asks <= 9: see
    # rltransfer.analysis.sequential: no rule with power >= 0.8 at d = 1 gets below ~9.4)


def test_a_replayed_look_uses_only_its_seeds():
    """Look 1 of a study is the same whatever the later seeds hold."""
    rng = np.random.default_rng(5)
    study = _study(rng, 0.3)
    changed = {m: dict(runs) for m, runs in study.items()}
    for s in range(5, 20):
        changed["method"][s] = _curve(50.0)  # wildly different later seeds
    a = method_looks(study, "method", "scratch", _plan())[0]
    b = method_looks(changed, "method", "scratch", _plan())[0]
    assert a == b and a["seeds"] == 5


def test_a_look_the_study_did_not_reach_is_not_taken():
    """A method stopped after look 1 (only seeds 0-4) is replayed as decided there."""
    rng = np.random.default_rng(6)
    study = _study(rng, 0.0)
    study["method"] = {s: c for s, c in study["method"].items() if s < 5}
    looks = method_looks(study, "method", "scratch", _plan())
    assert [x["look"] for x in looks] == [1]


def _bimodal(rng: np.random.Generator, n: int, shared: bool, gain: float) -> dict:
    """Half the sources transfer (area + 2·gain), half do not (+0): the true mean effect is
    ``gain``; every pair's method run adds seed noise N(0, 0.5²) around its source's effect."""
    effects = np.where(rng.random(n) < 0.5, 0.0, 2 * gain)
    if shared:
        effects[:] = effects[0]
    base = rng.normal(0.0, 1.0, n)
    meth = rng.normal(0.0, 1.0, n) + effects
    curves = {
        "scratch": {s: _curve(base[s]) for s in range(n)},
        "method": {s: _curve(meth[s]) for s in range(n)},
    }
    groups = {"method": {s: "source" if shared else f"source/seed_{s}" for s in range(n)}}
    return curves, groups


def _coverage(shared: bool, studies: int, seed: int, gain: float = 1.5, n: int = 10) -> float:
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(studies):
        curves, groups = _bimodal(rng, n, shared, gain)
        summary = analyze(
            curves, study="s", threshold=None, low=0.0, high=1.0, n_resamples=20, groups=groups
        )
        lo, hi = summary["methods"]["method"]["tests"]["welch_area"]["ci95"]
        covered += lo <= gain <= hi
    return covered / studies


def test_replicated_sources_cover_the_mean_effect_and_one_source_does_not():
    """Bimodal sources (half transfer, half not): with a source per pair the interval covers
    the true mean effect ~95% of the time; pairing every seed with one source does not."""
    paired = _coverage(shared=False, studies=400, seed=7)
    shared = _coverage(shared=True, studies=400, seed=8)
    assert paired >= 0.92, paired  # 400 studies: SE ~1.1%
    assert shared <= 0.5, shared


def test_pairs_sharing_a_source_are_averaged_per_source():
    a = np.array([1.0, 3.0, 2.0, 4.0])
    b = np.zeros(4)
    units = verdict_units(a, b, [0, 1, 2, 3], {0: "s0", 1: "s1", 2: "s0", 3: "s1"})
    assert units.by_source and units.sources == 2
    assert units.method.tolist() == [1.5, 3.5] and len(units.baseline) == 4
    one = verdict_units(a, b, [0, 1, 2, 3], dict.fromkeys(range(4), "source"))
    assert one.shared and one.method.tolist() == a.tolist()
    paired = verdict_units(a, b, [0, 1, 2, 3], {s: f"s{s}" for s in range(4)})
    assert not paired.shared and not paired.by_source and paired.sources == 4


def test_the_replay_decides_as_the_vectorised_rule():
    """``method_looks`` on curves and ``sequential_verdicts`` on their areas: one rule."""
    from rltransfer.analysis.sequential import sequential_verdicts

    rng = np.random.default_rng(9)
    for _ in range(60):
        study = _study(rng, 0.9)
        a = np.array([study["method"][s].return_mean.mean() for s in range(20)])
        b = np.array([study["scratch"][s].return_mean.mean() for s in range(20)])
        verdict, stop = sequential_verdicts(a, b, LOOKS)
        last = method_looks(study, "method", "scratch", _plan())[-1]
        assert (last["decision"], last["seeds"]) == (str(verdict), int(stop))


def test_the_verdict_says_what_its_sources_allow():
    """One shared source: the verdict is stated as conditional on it; a few shared round-robin:
    the test compares source means (and says so); the verdict sentence carries both."""
    rng = np.random.default_rng(10)
    curves = _study(rng, 0.5, n=6)

    def evidence(groups):
        summary = analyze(
            curves, study="s", threshold=None, n_resamples=20, groups={"method": groups}
        )
        return summary["methods"]["method"]

    shared = evidence(dict.fromkeys(range(6), "source"))
    assert "conditional on a single source agent" in shared["evidence"]
    assert shared["sources"] == 1 and "6 seed pairs" in shared["evidence"]
    three = evidence({s: f"source/seed_{s % 3}" for s in range(6)})
    assert (
        "share 3 source agents" in three["evidence"] and "3 sources vs 6 seeds" in three["evidence"]
    )
    assert three["tests"]["welch_area"]["units"] == "source means vs seeds"
    paired = evidence({s: f"source/seed_{s}" for s in range(6)})
    assert "conditional" not in paired["evidence"] and "share" not in paired["evidence"]
