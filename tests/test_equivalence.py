"""Equivalence within a margin (TOST) for inconclusive verdicts: the test, its calibration, the
seeds-needed formula, and the ``equivalence_margin`` study key from the file to summary.json.

Simulations use fixed, untuned generators; each rate's Monte Carlo standard error (MC SE) is given
beside its assertion.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from rltransfer.analysis import metrics as M
from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.analysis.equivalence import (
    equivalence,
    tost_batch,
    tost_power,
    tost_seeds_needed,
)
from rltransfer.analysis.verdict import decide
from rltransfer.cli import main
from rltransfer.reanalysis import AnalysisOptions

# --- the test on a hand-built case ----------------------------------------------------------

A = np.array([0.52, 0.55, 0.49, 0.54, 0.50])  # mean 0.52, squared deviations sum 0.0026
B = np.array([0.50, 0.48, 0.53, 0.47, 0.52])  # mean 0.50, squared deviations sum 0.0026
# By hand: var = 0.0026 / 4 = 0.00065 on each side, se^2 = 0.00065/5 + 0.00065/5 = 0.00026,
# Welch-Satterthwaite df = 0.00026^2 / (2 * 0.00013^2 / 4) = 8, diff = 0.02.
SE = np.sqrt(0.00026)
T95_8 = 1.8595480375228424  # t_{0.95, 8}, from tables


def test_tost_by_hand() -> None:
    r = tost_batch(A, B, 0.06)
    assert r["diff"] == pytest.approx(0.02)
    assert r["se"] == pytest.approx(SE)
    assert r["df"] == pytest.approx(8.0)
    # 90% CI = 0.02 -/+ 1.85955 * 0.016125 = [-0.009985, 0.049985]
    assert r["lo"] == pytest.approx(0.02 - T95_8 * SE) == pytest.approx(-0.009985, abs=1e-6)
    assert r["hi"] == pytest.approx(0.049985, abs=1e-6)
    # p_lower = P(T_8 > (0.02 + 0.06) / se), p_upper = P(T_8 < (0.02 - 0.06) / se)
    assert r["p_lower"] == pytest.approx(stats.t.sf(0.08 / SE, 8))
    assert r["p_upper"] == pytest.approx(stats.t.cdf(-0.04 / SE, 8))
    assert r["p_upper"] == pytest.approx(0.01905, abs=1e-4)  # t = -2.4807 on 8 df
    assert bool(r["equivalent"])
    # The same one-sided tests by scipy's Welch test on shifted data.
    up = stats.ttest_ind(A - 0.06, B, equal_var=False, alternative="less").pvalue
    low = stats.ttest_ind(A + 0.06, B, equal_var=False, alternative="greater").pvalue
    assert r["p_upper"] == pytest.approx(up) and r["p_lower"] == pytest.approx(low)


def test_a_margin_the_interval_does_not_fit_is_not_shown() -> None:
    r = tost_batch(A, B, 0.04)  # the CI's upper end 0.049985 is above 0.04
    assert not bool(r["equivalent"])
    assert r["p_upper"] == pytest.approx(stats.t.cdf(-0.02 / SE, 8))  # ~0.13
    assert r["p_upper"] > 0.05
    block = equivalence(A, B, 0.04)
    assert block["result"] == "not shown" and block["ci90"][1] == pytest.approx(0.049985, abs=1e-6)
    assert isinstance(block["seeds_needed"], int) and block["seeds_needed"] > 5
    assert equivalence(A, B, 0.06)["seeds_needed"] is None  # already shown


def test_equivalent_iff_the_90_interval_is_inside_the_margin() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, (5000, 6))
    b = rng.normal(0.0, 2.0, (5000, 6))
    r = tost_batch(a, b, 1.5)
    inside = (r["lo"] > -1.5) & (r["hi"] < 1.5)
    assert np.array_equal(r["equivalent"], inside)
    assert 0.05 < inside.mean() < 0.95  # both outcomes occur, so the check means something


def test_undefined_cases() -> None:
    one = tost_batch(np.array([0.5]), np.array([0.4]), 0.1)
    assert np.isnan(one["p_lower"]) and not bool(one["equivalent"])
    flat = equivalence(np.full(4, 0.5), np.full(4, 0.5), 0.1)
    assert flat["result"] == "not shown" and flat["reason"] and flat["seeds_needed"] is None
    with pytest.raises(ValueError):
        tost_batch(A, B, -1.0)


def test_decide_adds_equivalence_only_to_inconclusive_verdicts() -> None:
    dec = decide(A, B, margin=0.06)
    assert dec.verdict == "inconclusive"
    assert dec.equivalence is not None and dec.equivalence["result"] == "equivalent"
    assert "but equivalent to scratch within ±0.06 normalised area" in dec.evidence
    assert decide(A, B).equivalence is None  # no margin, no test
    assert "equivalent" not in decide(A, B).evidence
    positive = decide(A + 0.2, B, margin=0.06)
    assert positive.verdict == "positive" and positive.equivalence is None
    not_shown = decide(A, B, margin=0.04)
    assert "nor shown equivalent within ±0.04" in not_shown.evidence
    assert f"about {not_shown.equivalence['seeds_needed']} seed pairs" in not_shown.evidence


# --- calibration on synthetic curves ----------------------------------------------------------

GRID = np.linspace(0, 100_000, 11).astype(np.int64)
LOW, HIGH = -50.0, 150.0


def _areas(rng: np.random.Generator, shape: tuple[int, ...], shift: float = 0.0) -> np.ndarray:
    """Per-seed areas (the product's ``normalise`` + ``area``) of synthetic saturating curves,
    shape ``shape``; ``shift`` (normalised score) moves every area by exactly that much."""
    offset = rng.normal(0.0, 0.06, shape + (1,))
    rate = 3.0 * np.exp(0.25 * rng.standard_normal(shape + (1,)))
    noise = rng.normal(0.0, 0.04, shape + (GRID.size,))
    score = offset + 1.0 - np.exp(-rate * GRID / GRID[-1]) + noise + shift
    return M.area(M.normalise(LOW + (HIGH - LOW) * score, LOW, HIGH), GRID)


SD_AREA = 0.089  # SD of one seed's area under _areas (measured on 200,000 seeds: 0.0890)
MARGIN = 0.07  # normalised area, about 0.8 SD


def test_synthetic_sd_is_what_the_margins_assume() -> None:
    sd = _areas(np.random.default_rng(1), (200_000,)).std()
    assert sd == pytest.approx(SD_AREA, rel=0.03)


@pytest.mark.parametrize(("sign", "seed"), [(1.0, 11), (-1.0, 12)])
def test_at_the_margin_equivalence_is_declared_at_most_5_percent(sign: float, seed: int) -> None:
    """True difference exactly +-margin (the boundary of the null): size <= alpha."""
    rng = np.random.default_rng(seed)
    studies, n = 20_000, 20
    r = tost_batch(_areas(rng, (studies, n), sign * MARGIN), _areas(rng, (studies, n)), MARGIN)
    rate = r["equivalent"].mean()
    # MC SE at 5%: sqrt(0.05 * 0.95 / 20_000) = 0.0015
    assert rate <= 0.05 + 3 * 0.0015
    assert rate >= 0.03  # near alpha at this n, not trivially conservative


def test_at_the_margin_with_unequal_spreads() -> None:
    """Welch's df keep the size at the boundary when the two SDs differ (1 : 3), n = 8."""
    rng = np.random.default_rng(13)
    studies = 20_000
    a = 0.3 + rng.normal(0.0, 1.0, (studies, 8))
    b = rng.normal(0.0, 3.0, (studies, 8))
    rate = tost_batch(a, b, 0.3)["equivalent"].mean()  # true difference = margin = 0.3 << se
    assert rate <= 0.05 + 3 * 0.0015
    big = tost_batch(3.0 + rng.normal(0, 1, (studies, 8)), rng.normal(0, 3, (studies, 8)), 3.0)
    assert big["equivalent"].mean() <= 0.05 + 3 * 0.0015  # margin large against se: size ~ alpha
    assert big["equivalent"].mean() >= 0.03


def test_no_true_difference_with_enough_seeds_is_declared_equivalent() -> None:
    rng = np.random.default_rng(21)
    studies = 4000
    n = tost_seeds_needed(SD_AREA, SD_AREA, MARGIN)
    assert n is not None and 20 <= n <= 40  # 29
    r = tost_batch(_areas(rng, (studies, n)), _areas(rng, (studies, n)), MARGIN)
    rate = r["equivalent"].mean()
    # MC SE at 80%: sqrt(0.16 / 4000) = 0.0063
    assert 0.8 - 3 * 0.0063 <= rate <= 0.8 + 0.05
    r60 = tost_batch(_areas(rng, (studies, 60)), _areas(rng, (studies, 60)), MARGIN)
    assert r60["equivalent"].mean() > 0.95


@pytest.mark.parametrize(
    ("sd_m", "sd_b", "margin", "true_diff", "seed"),
    [(1.0, 1.0, 1.0, 0.0, 31), (0.5, 2.0, 1.0, 0.0, 32), (1.0, 1.0, 1.0, 0.4, 33)],
)
def test_seeds_needed_gives_about_80_percent_power_by_simulation(
    sd_m: float, sd_b: float, margin: float, true_diff: float, seed: int
) -> None:
    n = tost_seeds_needed(sd_m, sd_b, margin, true_diff)
    assert n is not None and n >= 3
    # n is the first with power >= 80% by the formula
    p_prev, p_n = tost_power(np.array([n - 1, n]), sd_m, sd_b, margin, true_diff)
    assert p_prev < 0.8 <= p_n
    rng = np.random.default_rng(seed)
    studies = 8000
    rates = []
    for k in (n - 1, n):
        a = true_diff + rng.normal(0.0, sd_m, (studies, k))
        b = rng.normal(0.0, sd_b, (studies, k))
        rates.append(tost_batch(a, b, margin)["equivalent"].mean())
    # MC SE at 80%: sqrt(0.16 / 8000) = 0.0045; the formula's Welch approximation adds ~1 point
    assert abs(rates[1] - p_n) <= 3 * 0.0045 + 0.01
    assert rates[1] >= 0.8 - 3 * 0.0045 - 0.01
    assert rates[0] < rates[1]


def test_seeds_needed_is_none_when_equivalence_is_false() -> None:
    assert tost_seeds_needed(1.0, 1.0, 1.0, true_diff=1.0) is None
    assert tost_seeds_needed(0.0, 0.0, 1.0) is None
    assert tost_seeds_needed(1.0, 1.0, 0.001) is None  # more than 1000 pairs


# --- the study key, end to end ------------------------------------------------------------------

CURVE_GRID = np.arange(0, 11) * 100


def _write(root, method: str, seed: int, values: np.ndarray) -> None:
    curve = Curve(CURVE_GRID, np.asarray(values, float), np.zeros(len(values)), np.full(11, 5))
    write_curve(root / "target" / method / f"seed_{seed}" / "curve.csv", curve)


@pytest.fixture
def folder(tmp_path):
    """scratch; ``twin`` drawn like scratch (equivalent within 0.05); ``noisy`` with a large
    per-seed offset (inconclusive, not shown equivalent); 8 seeds."""
    rng = np.random.default_rng(3)
    ramp = np.linspace(10, 100, len(CURVE_GRID))
    for seed in range(8):
        _write(tmp_path, "scratch", seed, ramp + rng.normal(0, 3, 11))
        _write(tmp_path, "twin", seed, ramp + rng.normal(0, 3, 11))
        _write(tmp_path, "noisy", seed, ramp + rng.normal(0, 20) + rng.normal(0, 3, 11))
    return tmp_path


def test_equivalence_margin_in_study_yaml_reaches_summary_and_report(folder, capsys) -> None:
    (folder / "study.yaml").write_text("name: eq\nthreshold: 100\nequivalence_margin: 0.05\n")
    assert AnalysisOptions.from_folder(folder).equivalence_margin == 0.05
    assert main(["report", str(folder)]) == 0
    s = json.loads((folder / "summary.json").read_text())
    assert s["verdict_rule"]["equivalence_margin"] == 0.05
    twin, noisy = s["methods"]["twin"], s["methods"]["noisy"]
    assert twin["verdict"] == noisy["verdict"] == "inconclusive"  # the contract's word stays
    eq = twin["equivalence"]
    assert eq["margin"] == 0.05 and eq["result"] == "equivalent" and eq["seeds_needed"] is None
    lo, hi = eq["ci90"]
    assert -0.05 < lo < hi < 0.05 and max(eq["p_lower"], eq["p_upper"]) < 0.05
    assert noisy["equivalence"]["result"] == "not shown"
    assert noisy["equivalence"]["seeds_needed"] > 8
    report = (folder / "report.md").read_text()
    assert "**twin: inconclusive, but equivalent to scratch within ±0.05**" in report
    assert "but equivalent to scratch within ±0.05 normalised area (TOST, 90% CI" in report
    assert "equivalence within ±0.05 not shown" in report
    n = noisy["equivalence"]["seeds_needed"]
    assert f"about {n} seed pairs would show it 80% of the time if the true difference" in report
    twin_paragraph = report.split("### twin:")[1].split("###")[0]
    assert "but here a test of equivalence does" in twin_paragraph
    assert "lies inside ±0.05" in twin_paragraph
    assert "This does not show that twin and scratch are equal" not in twin_paragraph
    assert "is not inside ±0.05" in report.split("### noisy:")[1].split("###")[0]


def test_an_observed_difference_outside_the_margin_is_said() -> None:
    dec = decide(A, B, margin=0.015)  # diff 0.02 > 0.015, not significant (p = 0.25)
    assert dec.verdict == "inconclusive" and dec.equivalence["result"] == "not shown"
    assert "the observed difference, +0.02, is itself outside the margin" in dec.evidence


def test_without_a_margin_the_summary_has_no_equivalence(folder) -> None:
    assert main(["report", str(folder), "--threshold", "100"]) == 0
    s = json.loads((folder / "summary.json").read_text())
    assert "equivalence" not in s["methods"]["twin"]
    assert s["verdict_rule"]["equivalence_margin"] is None
    assert "TOST" not in (folder / "report.md").read_text()


@pytest.mark.parametrize("bad", ["-1", "0", ".inf", "'a lot'"])
def test_a_bad_margin_in_a_folders_study_yaml_exits_2(folder, capsys, bad: str) -> None:
    (folder / "study.yaml").write_text(f"equivalence_margin: {bad}\n")
    assert main(["report", str(folder)]) == 2
    assert "equivalence_margin" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [-1, 0, float("inf")])
def test_a_bad_margin_in_a_study_file_exits_2(tiny_study, study_exit_2, bad: float) -> None:
    tiny_study["equivalence_margin"] = bad
    err = study_exit_2(tiny_study)
    assert "equivalence_margin" in err


def test_a_study_file_margin_reaches_the_analysis_options(tiny_study) -> None:
    from rltransfer.validation import load_study

    tiny_study["equivalence_margin"] = 0.05
    spec = load_study(tiny_study)
    assert spec.equivalence_margin == 0.05
    assert AnalysisOptions.from_spec(spec).equivalence_margin == 0.05
