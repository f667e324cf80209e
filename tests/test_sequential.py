"""Group-sequential verdict (analysis.sequential): boundaries, calibration, input errors.

Calibration uses per-seed areas N(0, 1) for the baseline and N(d, 1) for the method, judged by
``sequential_verdicts`` itself with looks (5, 10, 15, 20); generators are fixed and were never
tuned. The Monte Carlo standard error (MC SE) of each figure is given beside its assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rltransfer.analysis import sequential as seq
from rltransfer.analysis.verdict import verdicts

LOOKS = (5, 10, 15, 20)
AA_STUDIES, EFFECT_STUDIES, CHUNK = 400_000, 200_000, 50_000
SEED = 20260514


def measure(rules: dict[str, tuple[tuple[int, ...], str]], seed: int = SEED) -> dict[str, dict]:
    """Figures of each rule ``name: (looks, spending)`` on the same simulated studies.

    ``false_positive``: non-inconclusive rate at d = 0 (``AA_STUDIES``); ``power_d1``: positive
    rate at d = 1; ``mean_stop_d1.5`` (and its ``sd``): seed pairs at the deciding look at
    d = 1.5 (``EFFECT_STUDIES`` each).
    """
    out = {name: {} for name in rules}
    for i, (d, studies) in enumerate(((0.0, AA_STUDIES), (1.0, EFFECT_STUDIES), (1.5, None))):
        studies = studies or EFFECT_STUDIES
        rng = np.random.default_rng([seed, i])
        sums = {name: np.zeros(4) for name in rules}
        for start in range(0, studies, CHUNK):
            k = min(CHUNK, studies - start)
            a, b = rng.normal(d, 1.0, (k, LOOKS[-1])), rng.normal(0.0, 1.0, (k, LOOKS[-1]))
            for name, (looks, spending) in rules.items():
                v, n = seq.sequential_verdicts(a, b, looks, spending=spending)
                sums[name] += [(v == "positive").sum(), (v == "negative").sum(), n.sum(), n @ n]
        for name, (pos, neg, n1, n2) in sums.items():
            if d == 0.0:
                out[name]["false_positive"] = (pos + neg) / studies
                out[name]["aa_positive"], out[name]["aa_negative"] = pos / studies, neg / studies
            elif d == 1.0:
                out[name]["power_d1"] = pos / studies
            else:
                out[name]["mean_stop_d1.5"] = n1 / studies
                out[name]["sd_stop_d1.5"] = math.sqrt(max(n2 / studies - (n1 / studies) ** 2, 0))
    return out


@pytest.fixture(scope="module")
def figures() -> dict[str, dict]:
    return measure({"sequential": (LOOKS, seq.DEFAULT_SPENDING), "fixed": ((20,), "pocock")})


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


# --- boundaries -----------------------------------------------------------------------------


@pytest.mark.parametrize("spending", ["pocock", "obrien-fleming", "hsd:-3", "power:2", "hsd:0"])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_one_look_is_exactly_alpha(spending: str, alpha: float) -> None:
    assert seq.nominal_alphas((7,), alpha, spending) == (alpha,)


# Lan-DeMets two-sided alpha = 0.05, each side spending at alpha / 2 (gsDesign / rpact
# convention); the equally spaced K = 4 values are the published 4.33, 2.96, 2.36, 2.01
# (O'Brien-Fleming type) and 2.37, 2.37, 2.36, 2.35 (Pocock type), to 3 decimals.
PUBLISHED = [
    ((1, 2, 3, 4), "obrien-fleming", (4.333, 2.963, 2.359, 2.014)),
    ((1, 2, 3, 4), "pocock", (2.368, 2.368, 2.358, 2.350)),
    ((2, 4, 9, 10), "obrien-fleming", (4.877, 3.357, 2.097, 2.054)),
    ((2, 4, 9, 10), "pocock", (2.438, 2.427, 2.224, 2.376)),
    ((3, 6, 9, 10), "obrien-fleming", (3.929, 2.670, 2.121, 2.063)),
    ((3, 6, 9, 10), "pocock", (2.312, 2.321, 2.318, 2.412)),
    ((1, 2), "pocock", (2.157, 2.201)),
]


@pytest.mark.parametrize(("looks", "spending", "z"), PUBLISHED)
def test_published_boundaries(looks, spending, z) -> None:
    assert seq.z_boundaries(looks, 0.05, spending) == pytest.approx(z, abs=1e-3)
    # the same fractions from other seed counts give the same boundaries
    scaled = tuple(5 * n for n in looks)
    assert seq.z_boundaries(scaled, 0.05, spending) == pytest.approx(z, abs=1e-3)
    nominal = seq.nominal_alphas(looks, 0.05, spending)
    assert nominal == pytest.approx(2 * stats.norm.sf(z), rel=5e-3)


@pytest.mark.parametrize("looks", [LOOKS, (3, 9, 10), (2, 3, 4, 5, 6, 7, 8, 9, 10)])
def test_cumulative_crossing_is_the_spending_function(looks) -> None:
    """Independent check: 1,000,000 Brownian paths observed at t_k, first |Z_k| >= c_k."""
    t = np.asarray(looks) / looks[-1]
    rng = np.random.default_rng(7)
    paths = 1_000_000
    score = np.cumsum(rng.standard_normal((paths, len(t))) * np.sqrt(np.diff(t, prepend=0)), 1)
    z = np.abs(score) / np.sqrt(t)
    for spending in [seq.DEFAULT_SPENDING, "pocock", "obrien-fleming", "power:2", "hsd:4"]:
        c = np.asarray(seq.z_boundaries(looks, 0.05, spending))
        crossed = np.maximum.accumulate(z >= c, axis=1).mean(axis=0)
        spent = seq.spent_alpha(t, 0.05, spending)
        assert np.all(np.diff(spent) >= 0) and spent[-1] == pytest.approx(0.05)
        # MC SE of a cumulative rate <= 0.05 with 1e6 paths: <= 0.00022
        assert np.abs(crossed - spent).max() <= 4 * 0.00022, spending


# --- the rule -------------------------------------------------------------------------------


def test_one_look_is_the_fixed_verdict() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.6, 1.0, (3, 500, 20)), rng.normal(0.0, 1.0, (3, 500, 20))
    v, n = seq.sequential_verdicts(a, b, (20,))
    assert v.shape == n.shape == (3, 500)
    assert np.array_equal(v, verdicts(a, b)) and np.all(n == 20)
    flat = np.ones((2, 20))  # no variation: never decides
    assert seq.sequential_verdicts(flat, flat, LOOKS)[0].tolist() == ["inconclusive"] * 2


def test_false_positive_rate_over_all_looks(figures) -> None:
    fp = figures["sequential"]["false_positive"]
    # One-sided 99% upper bound (normal approximation; MC SE ~ 0.00034 at 400,000 studies):
    # the true rate is under 5%, not merely the estimate.
    assert fp + 2.33 * _se(fp, AA_STUDIES) <= seq.ALPHA
    pos, neg = figures["sequential"]["aa_positive"], figures["sequential"]["aa_negative"]
    assert abs(pos - neg) <= 4 * math.sqrt(fp / AA_STUDIES)  # both directions equally often
    assert figures["fixed"]["false_positive"] <= seq.ALPHA + 2.33 * _se(0.05, AA_STUDIES)


def test_power_at_one_sd(figures) -> None:
    power = figures["sequential"]["power_d1"]
    # MC SE ~ 0.00087 at 200,000 studies: a 99% lower bound above 0.80
    assert power - 2.33 * _se(power, EFFECT_STUDIES) >= 0.80
    assert figures["fixed"]["power_d1"] > power  # what the early looks cost


def test_mean_stop_at_one_and_a_half_sd(figures) -> None:
    stop = figures["sequential"]["mean_stop_d1.5"]
    assert stop < 0.6 * LOOKS[-1]  # fewer than 12 of the fixed rule's 20 seed pairs
    assert figures["fixed"]["mean_stop_d1.5"] == 20


@pytest.mark.xfail(strict=True, reason="no spending reaches a mean stop <= 9 (see sequential.py)")
def test_mean_stop_target_of_nine(figures) -> None:
    assert figures["sequential"]["mean_stop_d1.5"] <= 9


def test_documented_figures_are_measured(figures) -> None:
    """The constants quoted in sequential.py are what this simulation measures (4 MC SE)."""
    for name, documented in (("sequential", seq.MEASURED), ("fixed", seq.MEASURED_FIXED_20)):
        got = figures[name]
        fp, power = documented["false_positive"], documented["power_d1"]
        assert abs(got["false_positive"] - fp) <= 4 * _se(fp, AA_STUDIES) + 1e-4, name
        assert abs(got["power_d1"] - power) <= 4 * _se(power, EFFECT_STUDIES) + 1e-4, name
        se_stop = got["sd_stop_d1.5"] / math.sqrt(EFFECT_STUDIES)
        assert abs(got["mean_stop_d1.5"] - documented["mean_stop_d1.5"]) <= 4 * se_stop + 1e-3


@pytest.mark.slow
def test_large_false_positive_check() -> None:
    """2,000,000 A/A studies (MC SE 0.00015): the default stays under 5%, late spending does not."""
    studies, rng = 2_000_000, np.random.default_rng(99)
    rules = {"fixed": (20,), seq.DEFAULT_SPENDING: LOOKS, "obrien-fleming": LOOKS}
    count = dict.fromkeys(rules, 0)
    for _ in range(0, studies, CHUNK):
        a, b = rng.standard_normal((CHUNK, 20)), rng.standard_normal((CHUNK, 20))
        for name, looks in rules.items():
            v = seq.sequential_verdicts(
                a, b, looks, spending=name if name != "fixed" else "pocock"
            )[0]
            count[name] += int((v != "inconclusive").sum())
    rate = {name: c / studies for name, c in count.items()}
    se = _se(0.05, studies)
    assert rate[seq.DEFAULT_SPENDING] + 2.33 * se <= seq.ALPHA
    for name, documented in seq.LARGE_AA.items():
        assert abs(rate[name] - documented) <= 4 * se, name


# --- input errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: seq.nominal_alphas(()), "looks"),
        (lambda: seq.nominal_alphas((5, 5, 10)), "looks"),
        (lambda: seq.nominal_alphas((10, 5)), "looks"),
        (lambda: seq.nominal_alphas((0, 5)), "looks"),
        (lambda: seq.nominal_alphas((2.5, 5)), "looks"),
        (lambda: seq.nominal_alphas(("5", 10)), "looks"),
        (lambda: seq.nominal_alphas(5), "looks"),
        (lambda: seq.nominal_alphas((5, 10), alpha=0.0), "alpha"),
        (lambda: seq.nominal_alphas((5, 10), alpha=1.0), "alpha"),
        (lambda: seq.nominal_alphas((5, 10), alpha="0.05"), "alpha"),
        (lambda: seq.nominal_alphas((5, 10), spending="bonferroni"), "spending"),
        (lambda: seq.nominal_alphas((5, 10), spending="hsd"), "spending"),
        (lambda: seq.nominal_alphas((5, 10), spending="hsd:x"), "spending"),
        (lambda: seq.nominal_alphas((5, 10), spending="power:-1"), "spending"),
        (lambda: seq.nominal_alphas((5, 10), spending="pocock:2"), "spending"),
        (lambda: seq.sequential_verdicts(np.zeros((3, 9)), np.zeros((3, 20)), LOOKS), "area_m"),
        (lambda: seq.sequential_verdicts(np.zeros(20), np.zeros(19), LOOKS), "area_baseline"),
    ],
)
def test_input_errors_name_the_argument(call, argument: str) -> None:
    with pytest.raises(ValueError, match=f"^{argument}"):
        call()
