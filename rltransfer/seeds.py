"""Every seed rltransfer derives from a study's seeds, in one place, with its offset named.

A study gives seed ids (``seeds``: 0, 1, …) and a source seed (``source.seed``, 1000 by
default). Everything else random is seeded from those by adding a fixed offset, so each stream
is reproducible and no two streams share a seed by accident:

==========================  ==========================  =========================================
seed                        derived as                  so that
==========================  ==========================  =========================================
a target run's training     the seed id k               methods of pair k start alike
a replicated source's       ``source.seed`` + k         pair k's source is an agent of its own
evaluation env              run seed + 10 000           every method of seed k meets the same
                                                        evaluation episodes, not its training ones
distill: held-out states    run seed + 20 000           measurement episodes differ from training
distill: return episodes    run seed + 30 000           and from the held-out states
distill: reservoir draws    run seed + 40 000           which states are kept is independent of
                                                        the other streams
reuse: teacher-or-learner   run seed + 7 919            the coin is independent of SB3's streams
coin                                                    (7919, a prime, shares no period with them)
bootstrap of a method       [seed, crc32(name), stream] a method's intervals do not move when
                                                        another method is added or removed
==========================  ==========================  =========================================

SB3 seeds copy i of a vectorised env with ``seed + i``; with the offsets above a run uses seeds
up to ``seed + MAX_SEED_OFFSET + copies``, which the study checks keeps below ``SEED_LIMIT``.

Run ids hash the run seed (and a source's training seed), not the derived ones: changing an
offset here changes results without changing run ids, so never change one.

This module imports nothing of rltransfer (any layer may use it).
"""

from __future__ import annotations

import zlib

import numpy as np

EVAL_SEED_OFFSET = 10_000
"""Evaluation env seed = run seed + this: the same for every method of a seed pair, and apart
from the training env's seeds (run seed + copy index)."""
HELDOUT_SEED_OFFSET = 20_000
"""Distillation's held-out teacher rollouts: run seed + this (``rltransfer.methods.distill``)."""
RETURN_SEED_OFFSET = 30_000
"""Distillation's return measurement episodes: run seed + this."""
REUSE_COIN_SEED_OFFSET = 7919
"""Policy reuse's teacher-or-learner coin: run seed + this (``rltransfer.methods.reuse``)."""
RESERVOIR_SEED_OFFSET = 40_000
"""Distillation's reservoir draws (which visited states its bounded dataset keeps): run seed +
this (``rltransfer.methods.distill_dataset``). It seeds a numpy generator, not an env."""
OFFSETS = (
    EVAL_SEED_OFFSET,
    HELDOUT_SEED_OFFSET,
    RETURN_SEED_OFFSET,
    RESERVOIR_SEED_OFFSET,
    REUSE_COIN_SEED_OFFSET,
)
"""Every offset added to a run's seed."""
MAX_SEED_OFFSET = 100_000
"""Room reserved above a run's seed for the offsets (every one of ``OFFSETS`` is below it),
besides the index of each env copy."""
SEED_LIMIT = 2**32
"""numpy's (and so SB3's) seeds are below this."""


def eval_seed(run_seed: int) -> int:
    """The evaluation env's seed of a run trained with ``run_seed``; a source's zero-shot
    evaluation uses that of its first pair's seed id, so it meets that pair's t = 0 episodes."""
    return run_seed + EVAL_SEED_OFFSET


def source_seed(base: int, pair_seed: int) -> int:
    """The training seed of the replicated source serving seed id ``pair_seed`` (``base``:
    ``source.seed``). A single shared source trains with ``base`` itself."""
    return base + pair_seed


def heldout_seed(run_seed: int) -> int:
    """Distillation's held-out rollouts (``HELDOUT_SEED_OFFSET``)."""
    return run_seed + HELDOUT_SEED_OFFSET


def return_seed(run_seed: int) -> int:
    """Distillation's return episodes (``RETURN_SEED_OFFSET``)."""
    return run_seed + RETURN_SEED_OFFSET


def reuse_coin_seed(run_seed: int) -> int:
    """Policy reuse's coin generator (``REUSE_COIN_SEED_OFFSET``)."""
    return run_seed + REUSE_COIN_SEED_OFFSET


def reservoir_seed(run_seed: int) -> int:
    """Distillation's reservoir generator (``RESERVOIR_SEED_OFFSET``)."""
    return run_seed + RESERVOIR_SEED_OFFSET


def method_rng(seed: int, method: str, stream: int = 0) -> np.random.Generator:
    """The generator for one method's bootstrap: depends on ``seed``, the method's name and the
    ``stream`` (0 target-only, 1 total cost, 2 forgetting) only, so adding or removing another
    method, or another accounting, does not change this method's intervals."""
    key = [seed, zlib.crc32(method.encode("utf-8"))] + ([stream] if stream else [])
    return np.random.default_rng(key)
