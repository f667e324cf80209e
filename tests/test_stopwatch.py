"""Where a run's time goes: exclusive sections, and the ``timing`` block of a run's meta.json."""

from __future__ import annotations

import json

from rltransfer import run_study
from rltransfer.stopwatch import Stopwatch, peak_rss_mb, process_age_s


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nested_sections_count_only_their_own_time():
    clock = FakeClock()
    watch = Stopwatch(clock)
    with watch.section("train"):
        clock.now += 2.0
        with watch.section("eval"):
            clock.now += 0.5
            with watch.section("wandb"):
                clock.now += 0.25
        clock.now += 1.0
        with watch.section("eval"):
            clock.now += 0.5
    clock.now += 0.75  # in no section
    report = watch.report()
    seconds = report["seconds"]
    assert seconds == {"train": 3.0, "eval": 1.0, "wandb": 0.25, "other": 0.75}
    assert report["total_s"] == 5.0
    assert report["peak_rss_mb"] > 0


def test_a_section_that_raises_is_still_counted():
    clock = FakeClock()
    watch = Stopwatch(clock)
    try:
        with watch.section("setup"):
            clock.now += 1.5
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert watch.seconds == {"setup": 1.5}


def test_the_process_age_and_memory_are_read_from_the_system():
    age = process_age_s()
    assert age is None or age > 0  # None off Linux
    assert peak_rss_mb() > 10  # this interpreter with numpy loaded


def test_every_run_records_where_its_time_went(tiny_study, tmp_path):
    tiny_study["seeds"] = [0]
    tiny_study["methods"] = ["scratch", "finetune"]
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    metas = [json.loads(p.read_text()) for p in result.out_dir.rglob("meta.json")]
    assert len(metas) == 3  # the source, scratch and finetune
    for meta in metas:
        timing = meta["timing"]
        assert abs(sum(timing["seconds"].values()) - timing["total_s"]) < 1e-3
        for section in ("setup", "train", "eval", "io"):
            assert timing["seconds"][section] > 0, (section, timing)
        assert timing["total_s"] <= meta["wall_time_s"] + 0.05
        assert timing["peak_rss_mb"] > 100  # torch and SB3 are loaded
