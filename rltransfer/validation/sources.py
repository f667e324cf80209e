"""Checks of a study's source replicas: a checkpoint list, and a replica count for the seeds."""

from __future__ import annotations

from pathlib import Path

from rltransfer.checkpoints import CheckpointError, CheckpointInfo, read_checkpoint_info
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import PAIRED, SourceSpec


def checkpoint_info(s: SourceSpec, n_seeds: int) -> CheckpointInfo:
    """Each file of ``s.checkpoint`` (one or a list of replicas) read and resolved; replicas
    must be the same kind of agent (algorithm and spaces)."""
    paths = s.checkpoints
    if len(paths) > n_seeds:
        raise FieldError(
            "source.checkpoint",
            f"lists {len(paths)} checkpoints for {n_seeds} seed pairs: at most one per pair",
        )
    infos, resolved = [], []
    for i, given in enumerate(paths):
        field_path = "source.checkpoint" + ("" if isinstance(s.checkpoint, str) else f"[{i}]")
        path = Path(given).expanduser()
        if not path.is_file():
            raise FieldError(field_path, f"no such file: {path}")
        try:
            info = read_checkpoint_info(path)
        except CheckpointError as e:
            raise FieldError(field_path, f"{path}: {e}") from None
        first = infos[0] if infos else info
        same = (info.algo, info.observation_space, info.action_space)
        if same != (first.algo, first.observation_space, first.action_space):
            raise FieldError(
                field_path,
                f"{path} is not the same kind of agent as {resolved[0]} (algorithm or spaces "
                "differ): replicas must be copies of one source trained with other seeds",
            )
        infos.append(info)
        resolved.append(str(path.resolve()))
    s.checkpoint = resolved[0] if isinstance(s.checkpoint, str) else resolved
    if s.timesteps is None:  # what the source cost, for the total-cost accounting
        s.timesteps = max(i.num_timesteps for i in infos)
    return infos[0]


def check_replicas(s: SourceSpec, path: str, n_seeds: int) -> None:
    """A replica count above the seed pairs would train sources no pair uses."""
    if isinstance(s.replicas, int) and s.checkpoint is None and s.replicas > n_seeds:
        raise FieldError(
            join(path, "replicas"),
            f"{s.replicas} source agents for {n_seeds} seed pairs: at most one per pair "
            f"('{PAIRED}' gives each pair its own)",
        )
