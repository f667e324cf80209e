"""Which source agent each seed pair transfers from (``source.replicas``).

A study has R source agents (replicas) for its S seed pairs: R = S when ``paired`` (the default),
N for ``replicas: N``, 1 for a shared source, or one per file of a ``checkpoint`` list. Pair i
(the i-th seed id of ``seeds``) transfers from replica ``i % R`` (round-robin). Replica j is
trained with seed ``source.seed + seeds[j]`` (``rltransfer.seeds.source_seed``) and lives in
``<folder>/seed_<seeds[j]>`` (``rltransfer.layout``); a single shared source keeps
``source.seed`` and the folder itself (``source/``).

The same mapping is computed by the study (to plan the runs) and by the analysis (to know which
pairs share a source) from the study file alone, so a report can be re-made from a folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from rltransfer.config.spec import SourceSpec
from rltransfer.layout import CHECKPOINT_PREFIX, SEED_PREFIX, checkpoint_key_name, seed_dir_name
from rltransfer.seeds import source_seed


@dataclass(frozen=True)
class Replica:
    """One source agent of a study.

    ``key``: its name in folders and summaries (``source``, ``source/seed_3``,
    ``sources/<method>/seed_3``, ``source/checkpoint_1``); ``seed``: its training seed (None for a
    checkpoint); ``checkpoint``: its file, or None when trained; ``index``: j in 0..R-1."""

    key: str
    index: int
    seed: int | None
    checkpoint: str | None

    @property
    def name(self) -> str | None:
        """``seed_3`` / ``checkpoint_1`` for one of several replicas; None for a shared one."""
        head, _, tail = self.key.rpartition("/")
        return tail if tail.startswith((SEED_PREFIX, CHECKPOINT_PREFIX)) and head else None


def replicas(source: SourceSpec, folder: str, seeds: list[int]) -> list[Replica]:
    """The R source agents serving ``seeds`` (the study's full seed list, in order); ``folder``:
    the source's key, ``rltransfer.layout.source_folder``."""
    count = source.replica_count(len(seeds))
    files = source.checkpoints
    if files:
        if count == 1:
            return [Replica(folder, 0, None, files[0])]
        return [
            Replica(f"{folder}/{checkpoint_key_name(j)}", j, None, f) for j, f in enumerate(files)
        ]
    if count == 1:
        return [Replica(folder, 0, source.seed, None)]
    return [
        Replica(f"{folder}/{seed_dir_name(seeds[j])}", j, source_seed(source.seed, seeds[j]), None)
        for j in range(count)
    ]


def pair_replicas(source: SourceSpec, folder: str, seeds: list[int]) -> dict[int, Replica]:
    """``{seed id: the replica its pair transfers from}`` for every seed of ``seeds``."""
    reps = replicas(source, folder, seeds)
    return {seed: reps[i % len(reps)] for i, seed in enumerate(seeds)}
