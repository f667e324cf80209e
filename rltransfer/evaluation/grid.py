"""The evaluation grid and the clock that evaluates at each of its points during training."""

from __future__ import annotations

from collections.abc import Callable

from stable_baselines3.common.callbacks import BaseCallback


def eval_grid(timesteps: int, every: int) -> list[int]:
    """``[0, every, 2·every, …, timesteps]``; the budget is always the last point."""
    grid = list(range(0, timesteps, every))
    return [*grid, timesteps]


class GridClock:
    """Evaluates at each interior grid point as the env-step count crosses it, and reports
    progress. Shared by SB3's ``learn`` (through ``EvalGridCallback``) and a method's own
    training phase before it (``TransferMethod.before_learning``).

    The first (t = 0) and last (t = budget) points are evaluated outside ``learn`` so that
    the last one sees the final update.
    """

    def __init__(
        self,
        grid: list[int],
        evaluate: Callable[[int], bool],
        progress: Callable[[int], None] | None = None,
    ):
        """``evaluate(t)`` records grid point ``t`` and returns False to stop training."""
        self.interior = grid[1:-1]
        self.evaluate = evaluate
        self.progress = progress
        self._next = 0

    def advance(self, t: int) -> bool:
        """The run has taken ``t`` env steps; return False when training should stop."""
        while self._next < len(self.interior) and t >= self.interior[self._next]:
            keep_going = self.evaluate(self.interior[self._next])
            self._next += 1
            if not keep_going:
                return False
        if self.progress is not None:
            self.progress(t)
        return True


class EvalGridCallback(BaseCallback):
    """``GridClock`` as an SB3 callback."""

    def __init__(self, clock: GridClock):
        super().__init__()
        self.clock = clock

    def _on_step(self) -> bool:
        return self.clock.advance(self.num_timesteps)
