"""The seeds rltransfer derives (``rltransfer.seeds``): named offsets, one function each, and the
default study's plan unchanged by moving them there (the same run ids, seeds and folders)."""

from __future__ import annotations

from pathlib import Path

from rltransfer import seeds
from rltransfer.study import load_study, plan_study

# The default study's planned run ids, computed before the seed arithmetic moved to
# rltransfer.seeds (and the folder names to rltransfer.layout): they must never change.
SOURCE_IDS = [
    "efa980d45007f072", "847098a8a736464a", "444e9527d89f9278", "792a3a8f3bf056d2",
    "f998875c929ad873", "1cc75698bc236746", "6a6069e192cf0096", "1196b1b11da9c0b7",
    "198a5a83a94d2b75", "c1eda772c68bfa1e", "182f9fb99a063567", "065082fa8485d797",
    "fbcff871cacac75a", "211cc4a4d5da41bd", "5c9465571ba81fe7", "f7143df359ae2721",
    "13a4d76cdd99e6c0", "21ffda0e0d0a8f0f", "dbc403c65575f483", "7688141ac9720dca",
]  # fmt: skip
SCRATCH_IDS = [
    "7e625a00d7ed3d62", "f051f21651f2c450", "7a1b5c3ce4dfbaa4", "b566feefba0f4394",
    "2b05f714c9476bcd", "9df49b248c67e9eb", "bae08d8dab5c20ea", "b00d3d868a57d726",
    "0395c11a65ef2bb6", "4b9211ceaddf8341", "227737f48ba74f1a", "468383c51b29d57a",
    "edc533e9956a3ce7", "da2ef17234a3a525", "23a2704995517c89", "96c5c6287d5c4e7f",
    "4a32e27f1f4de421", "23ed09c25cc4dbc9", "71c58c9043ccf084", "077998cf254fe2ed",
]  # fmt: skip
FINETUNE_IDS = [
    "1bf4924e61e42045", "463e1589a8f6d30e", "620b81e309ee478c", "184e00ff763238c5",
    "d1b534b942caf1cc", "51e73f7b8fcfeb48", "fd3864120a7fbf21", "c20b91a9112e3cea",
    "60cd29e72ebe043c", "e0956fdeefe304e4", "14adb98e57ff1463", "74cf4382292ad2b7",
    "bd010b4650a7a8c0", "86ac269d58da8833", "92f38a30d25f909d", "6da1001b477baff8",
    "13724315dae57629", "b155dc0feba17e16", "6960d27ba85a1174", "62437d3929c13863",
]  # fmt: skip


def test_the_default_studys_run_ids_and_seeds_do_not_change():
    plan = plan_study(load_study(None), Path("r"))
    assert [r.run_id for r in plan.sources] == SOURCE_IDS
    assert [r.run_id for r in plan.targets if r.label == "scratch"] == SCRATCH_IDS
    assert [r.run_id for r in plan.targets if r.label == "finetune"] == FINETUNE_IDS
    assert [r.label for r in plan.targets] == ["scratch"] * 20 + ["finetune"] * 20
    # the seeds behind them (not all are in the ids): paired sources 1000 + k, evaluation at
    # 10 000 above the run's seed, a source's zero-shot on its pair's evaluation episodes
    assert [r.seed for r in plan.sources] == list(range(1000, 1020))
    assert [r.eval_seed for r in plan.sources] == list(range(11000, 11020))
    assert [r.zero_shot_seed for r in plan.sources] == list(range(10000, 10020))
    assert [r.seed for r in plan.targets] == list(range(20)) * 2
    assert [r.eval_seed for r in plan.targets] == list(range(10000, 10020)) * 2
    assert [r.out_dir for r in plan.sources] == [f"r/source/seed_{k}" for k in range(20)]
    finetune = plan.targets[20:]
    assert [r.out_dir for r in finetune] == [f"r/target/finetune/seed_{k}" for k in range(20)]
    assert [r.source_dir for r in finetune] == [r.out_dir for r in plan.sources]
    assert [r.baseline_dir for r in finetune] == [r.out_dir for r in plan.targets[:20]]


def test_each_offset_is_named_and_gives_the_old_numbers():
    assert seeds.eval_seed(3) == 10_003
    assert seeds.source_seed(1000, 7) == 1007
    assert seeds.heldout_seed(3) == 20_003
    assert seeds.return_seed(3) == 30_003
    assert seeds.reuse_coin_seed(3) == 7922
    assert max(seeds.OFFSETS) < seeds.MAX_SEED_OFFSET < seeds.SEED_LIMIT


def test_the_methods_use_the_named_offsets():
    from rltransfer.methods import distill, reuse

    assert reuse.reuse_coin_seed is seeds.reuse_coin_seed
    assert distill.heldout_seed is seeds.heldout_seed
    assert distill.return_seed is seeds.return_seed


def test_a_methods_bootstrap_stream_depends_on_its_name_only():
    a = seeds.method_rng(0, "finetune").integers(0, 2**31, 4)
    # the numbers analysis.summary's generator gave before it moved here
    assert list(a) == [1614463838, 224130147, 451835234, 21416177]
    b = seeds.method_rng(5, "finetune", 2).integers(0, 2**31, 2)
    assert list(b) == [1759605372, 1909040342]
    assert list(a) != list(seeds.method_rng(0, "reuse").integers(0, 2**31, 4))
    assert list(a) != list(seeds.method_rng(0, "finetune", 1).integers(0, 2**31, 4))
