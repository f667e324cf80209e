"""Words that match the curves: a dip below the method's own start, a late return to the threshold.

The audited case of issue 14 (item 5), built by hand on the default grid (21 points every 2,500 to
50,000; threshold 475): the source scores 500 on the target at t = 0, fine-tuning drags the mean
down to 282 by 5,000 steps, and it gets back to the threshold at 37,500, after scratch (35,000).
"""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis.course import curve_course, dip, threshold_course
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.summary import analyze
from rltransfer.report.explain import method_paragraph
from rltransfer.report.markdown import render_report

GRID = np.arange(21) * 2500
THRESHOLD = 475.0
OFFSETS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # per-seed shifts that average to exactly 0

# scratch: 20 at t=0, linear to 475 at 35,000 (index 14), then 490
SCRATCH = np.concatenate([np.linspace(20.0, 475.0, 15), np.full(6, 490.0)])
# fine-tune: 500, 380, 282 at 5,000, then linear to 475 at 37,500 (index 15), then 500
DIPPING = np.concatenate([[500.0, 380.0], np.linspace(282.0, 475.0, 14), np.full(5, 500.0)])
# a method that only learns faster: 20 at t=0, linear to 475 at 20,000 (index 8), then 495
FASTER = np.concatenate([np.linspace(20.0, 475.0, 9), np.full(12, 495.0)])


def _seeds(mean: np.ndarray) -> np.ndarray:
    return mean[None, :] + OFFSETS[:, None]


def _study(method: np.ndarray) -> dict[str, dict[int, Curve]]:
    n = GRID.size

    def curves(x: np.ndarray) -> dict[int, Curve]:
        return {k: Curve(GRID, row, np.ones(n), np.full(n, 10)) for k, row in enumerate(x)}

    return {"scratch": curves(_seeds(SCRATCH)), "finetune": curves(_seeds(method))}


def test_dip_by_hand() -> None:
    d = dip(DIPPING, GRID)
    assert d == {
        "start": 500.0,
        "lowest": 282.0,
        "lowest_at": 5000,
        "depth": 218.0,
        "recovered_at": 40000,  # the first point back at 500 after the low
    }
    assert dip(FASTER, GRID)["depth"] < 0  # never below its start
    never = dip(np.array([10.0, 4.0, 6.0]), np.array([0, 10, 20]))
    assert never["lowest_at"] == 10 and never["recovered_at"] is None


def test_threshold_course_by_hand() -> None:
    c = threshold_course(DIPPING, SCRATCH, GRID, THRESHOLD)
    assert c == {
        "first_reached": 0,
        "lost_at": 2500,
        "back_at": 37500,
        "baseline_reached": 35000,
        "late": True,
    }
    # lost but back before scratch gets there: not late
    early = DIPPING.copy()
    early[3:] = 480.0  # back at 7,500
    c = threshold_course(early, SCRATCH, GRID, THRESHOLD)
    assert c["back_at"] == 7500 and not c["late"]
    # lost and never back while scratch reaches it: late
    gone = DIPPING.copy()
    gone[2:] = 300.0
    c = threshold_course(gone, SCRATCH, GRID, THRESHOLD)
    assert c["back_at"] is None and c["late"]
    # never lost: nothing to say
    c = threshold_course(FASTER, SCRATCH, GRID, THRESHOLD)
    assert c["first_reached"] == 20000 and c["lost_at"] is None and not c["late"]


def test_curve_course_counts_seeds_and_ignores_small_dips() -> None:
    low, high = 20.0, THRESHOLD  # score range 455
    c = curve_course(_seeds(DIPPING), _seeds(SCRATCH), GRID, THRESHOLD, low, high)
    assert c["dip"]["dipped"] and c["dip"]["seeds_dipped"] == 5 and c["dip"]["seeds"] == 5
    assert c["dip"]["depth_normalised"] == pytest.approx(218 / 455)
    assert c["threshold"]["late"]
    # a 5-point wobble (1% of the range) is noise, not a dip
    wobble = FASTER.copy()
    wobble[1] = FASTER[0] - 5.0
    c = curve_course(_seeds(wobble), _seeds(SCRATCH), GRID, THRESHOLD, low, high)
    assert c["dip"]["depth"] == pytest.approx(5.0) and not c["dip"]["dipped"]
    # one seed of five dips on its own curve: counted, though the mean does not dip enough
    rows = _seeds(FASTER)
    rows[0, 1] = rows[0, 0] - 100.0
    c = curve_course(rows, _seeds(SCRATCH), GRID, THRESHOLD, low, high)
    assert c["dip"]["seeds_dipped"] == 1 and not c["dip"]["dipped"]
    assert curve_course(rows, _seeds(SCRATCH), GRID, None, low, high)["threshold"] is None


def test_report_says_the_zero_shot_method_got_worse_and_came_back_after_scratch() -> None:
    s = analyze(_study(DIPPING), study="audit", threshold=THRESHOLD)
    fin = s["methods"]["finetune"]
    assert fin["verdict"] == "positive"  # the area is larger: the start carries it
    assert fin["course"]["dip"]["dipped"] and fin["course"]["threshold"]["late"]
    # the answer's evidence sentence
    assert "learned faster" not in fin["evidence"]
    assert (
        "but target training first made finetune worse than it started (mean 500 at t=0, 282 at "
        "t=5,000)" in fin["evidence"]
    )
    assert (
        "finetune got back to the threshold only at t=37,500, after scratch reached it"
        in (fin["evidence"])
    )
    # the per-method explanation
    text = " ".join(method_paragraph("finetune", s))
    assert "learned faster" not in text
    assert "That is not learning faster. Target training first made finetune worse" in text
    assert "fell from 500 at t = 0 (before any target training) to 282 at t = 5,000" in text
    assert "it was back at its start by t = 40,000 (5 of 5 seeds fell more than 10%" in text
    assert (
        "finetune reached the threshold (475) from t = 0, fell below it at t = 2,500 and got "
        "back to it only at t = 37,500, after scratch first reached it (t = 35,000)." in text
    )
    assert "That is not learning faster" in render_report(s)


def test_a_method_that_just_learns_faster_gets_no_such_words() -> None:
    s = analyze(_study(FASTER), study="plain", threshold=THRESHOLD)
    fin = s["methods"]["finetune"]
    assert fin["verdict"] == "positive"
    assert not fin["course"]["dip"]["dipped"] and not fin["course"]["threshold"]["late"]
    text = " ".join(method_paragraph("finetune", s))
    assert "worse than it started" not in text and "worse than it started" not in fin["evidence"]
    assert "got back to" not in text


def test_a_dip_is_reported_whatever_the_verdict() -> None:
    # the same dip, but scratch learns as fast as the method's recovery: the paragraph still
    # says so, without "but"/"That is not learning faster" tied to a positive verdict
    slow = DIPPING - 300.0  # starts at 200 (below the threshold), dips to -18, ends at 200
    s = analyze(_study(slow), study="neg", threshold=THRESHOLD)
    fin = s["methods"]["finetune"]
    assert fin["verdict"] == "negative" and fin["course"]["dip"]["dipped"]
    assert "; target training first made finetune worse than it started" in fin["evidence"]
    text = " ".join(method_paragraph("finetune", s))
    assert "Target training first made finetune worse than it started" in text
    assert "That is not learning faster" not in text


def test_time_ratio_note_says_what_followed_the_first_crossing() -> None:
    s = analyze(_study(DIPPING), study="audit", threshold=THRESHOLD)
    ttt = s["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]
    assert ttt["case"] == "method at t=0" and ttt["mean"] is None
    assert (
        "fell below the threshold again at t=2,500 and got back to it at t=37,500" in (ttt["note"])
    )
    plain = analyze(_study(FASTER), study="plain", threshold=THRESHOLD)
    note = plain["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]["note"]
    assert note is None or "fell below" not in note


def test_a_method_that_loses_the_threshold_for_good_is_said_to() -> None:
    gone = DIPPING.copy()
    gone[2:] = 300.0  # below 475 from 5,000 on; scratch reaches it at 35,000
    s = analyze(_study(gone), study="gone", threshold=THRESHOLD)
    fin = s["methods"]["finetune"]
    text = " ".join(method_paragraph("finetune", s))
    assert (
        "finetune reached the threshold (475) from t = 0, fell below it at t = 2,500 and did not "
        "get back to it by t = 50,000, while scratch reached it at t = 35,000." in text
    )
    assert "did not get back to it, while scratch reached it (t=35,000)" in fin["evidence"]
    assert "had not got back to its start by t = 50,000" in text
