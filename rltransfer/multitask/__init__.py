"""Multi-task sources: one agent trained over several source tasks (``source.envs``).

Each task env tells the policy which task it is (``TaskIdWrapper``: a Dict observation
``{"obs": <original>, "task": Discrete(K)}``); the policy (``MultiTaskPolicy``) shares the
encoder and the MLP hidden layers across tasks and keeps task-specific output layers
(``source.heads``: ``multi`` or ``conditioned``). Training samples the tasks evenly
(``make_task_vec_env``) and evaluation reports each task (``MultiTaskEvaluator``).
"""

from rltransfer.multitask.env import TaskIdWrapper, is_task_space, make_task_vec_env
from rltransfer.multitask.policy import HEADS, MultiTaskPolicy, TaskHeads

__all__ = [
    "HEADS",
    "MultiTaskPolicy",
    "TaskHeads",
    "TaskIdWrapper",
    "is_task_space",
    "make_task_vec_env",
]
