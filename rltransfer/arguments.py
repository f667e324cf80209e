"""Declarative checks of stable-baselines3 constructor arguments, before any training.

Three tables map an argument to its ``Arg`` (type and range): ``HYPERPARAMS`` (the algorithm's
constructor, with per-algorithm overrides in ``ALGO_HYPERPARAMS``), ``POLICY_KWARGS`` (the policy
class's) and ``NORMALIZE_KWARGS`` (``VecNormalize``'s). Arguments outside the tables are left to
the model build that validation does once per configuration (``rltransfer.validation.models``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rltransfer.config.parse import FieldError, join, type_name

_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "null (it takes a Python object, which a study file cannot give)",
}


@dataclass(frozen=True)
class Arg:
    """One argument. ``kind``: ``int`` | ``float`` | ``bool`` | ``object`` (only ``null``);
    ``interval``: ``[lo, hi]``, with ``(`` or ``)`` for an open end and ``inf``; ``also``: other
    accepted values (``-1``, ``None``, ``"auto"``, ``"auto_<number>"``: the word with a positive
    number); ``schedule``: ``lin_<number>`` with the number in the interval; ``units``: a
    ``[n, unit]`` pair with one of these units is accepted too (SB3's ``train_freq``)."""

    kind: str
    interval: str = ""
    also: tuple[Any, ...] = ()
    schedule: bool = False
    units: tuple[str, ...] = ()


def _bounds(interval: str) -> tuple[float, float, bool, bool]:
    lo, hi = (float(x) for x in interval[1:-1].split(","))
    return lo, hi, interval[0] == "[", interval[-1] == "]"


def _range_text(arg: Arg) -> str:
    lo, hi, lo_in, hi_in = _bounds(arg.interval)
    if math.isinf(lo) and math.isinf(hi):
        return ""
    if math.isinf(hi):
        op, num = (">=" if lo_in else ">"), (int(lo) if lo.is_integer() else lo)
        return f"{op} {num}"
    return f"in {arg.interval}"


def allowed(arg: Arg) -> str:
    """What ``arg`` accepts, for messages: ``a number in [0, 1]``, ``an integer >= 1 or -1``."""
    text = " ".join(filter(None, [_KINDS[arg.kind], arg.interval and _range_text(arg)]))
    extras = [repr(a) if isinstance(a, str) else str(a) for a in arg.also]
    if arg.schedule:
        extras.append("'lin_<number>' with such a number")
    if arg.units:
        extras.append(f"[n, {' | '.join(arg.units)}]")
    return " or ".join([text, *extras])


def _in_range(arg: Arg, value: float) -> bool:
    if not arg.interval:
        return True
    lo, hi, lo_in, hi_in = _bounds(arg.interval)
    return (lo <= value if lo_in else lo < value) and (value <= hi if hi_in else value < hi)


def _word(arg: Arg, value: str) -> bool:
    for w in arg.also:
        if not isinstance(w, str):
            continue
        if w == value:
            return True
        prefix = w.removesuffix("<number>")
        if prefix != w and value.startswith(prefix):
            try:
                number = float(value[len(prefix) :])
            except ValueError:
                return False
            return math.isfinite(number) and number > 0
    return False


def _number(arg: Arg, value: Any) -> bool:
    if arg.kind == "object":
        return value is None
    if arg.kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not math.isfinite(value) or (arg.kind == "int" and not float(value).is_integer()):
        return False
    return _in_range(arg, value)


def schedule_start(text: str) -> float | None:
    """The start value of a ``lin_<number>`` schedule (linear decay to 0), or None when
    ``text`` is not one."""
    if not text.startswith("lin_"):
        return None
    try:
        return float(text[4:])
    except ValueError:
        return None


def check_arg(arg: Arg, value: Any, path: str) -> Any:
    """Raise ``FieldError`` unless ``value`` fits ``arg``; return it (an integral float as int)."""
    ok = _number(arg, value) or (value in arg.also and not isinstance(value, bool))
    if not ok and isinstance(value, str):
        ok = _word(arg, value)
        start = schedule_start(value) if arg.schedule else None
        if not ok and start is not None:
            ok = _number(Arg("float", arg.interval), start)
    if not ok and arg.units and isinstance(value, list | tuple) and len(value) == 2:
        ok = _number(Arg(arg.kind, arg.interval), value[0]) and value[1] in arg.units
    if not ok:
        got = repr(value) if len(repr(value)) <= 80 else type_name(value)
        hint = ""
        if isinstance(value, str) and _looks_numeric(value):
            hint = " (YAML reads 1e5 or 1e-3 as a string: write 1.0e+5, 1.0e-3)"
        raise FieldError(path, f"must be {allowed(arg)}, got {got}{hint}")
    if arg.kind == "int" and isinstance(value, float):
        return int(value)
    return value


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_table(table: dict[str, Arg], values: dict[str, Any], path: str) -> None:
    """Check (in place) every key of ``values`` that ``table`` describes."""
    for key, value in values.items():
        if key in table:
            values[key] = check_arg(table[key], value, join(path, key))


_POSITIVE = Arg("float", "(0, inf)")
_NON_NEGATIVE = Arg("float", "[0, inf)")
_UNIT = Arg("float", "[0, 1]")
_COUNT = Arg("int", "[1, inf)")
_FLAG = Arg("bool")
_OBJECT = Arg("object")
_LAYER = Arg("int", "[1, 65536]")
"""A hidden layer's width (a wider one would not fit in memory next to its neighbours)."""

HYPERPARAMS: dict[str, Arg] = {
    "learning_rate": Arg("float", "(0, 1]", schedule=True),  # larger ones diverge to NaN
    "n_steps": _COUNT,
    "batch_size": _COUNT,
    "n_epochs": _COUNT,
    "gamma": _UNIT,
    "gae_lambda": _UNIT,
    "clip_range": Arg("float", "(0, inf)", schedule=True),
    "clip_range_vf": Arg("float", "(0, inf)", also=(None,), schedule=True),
    "normalize_advantage": _FLAG,
    "ent_coef": _NON_NEGATIVE,
    "vf_coef": _NON_NEGATIVE,
    "max_grad_norm": _POSITIVE,
    "use_sde": _FLAG,
    "sde_sample_freq": Arg("int", "[-1, inf)"),
    "target_kl": Arg("float", "(0, inf)", also=(None,)),
    "stats_window_size": _COUNT,
    "rms_prop_eps": _POSITIVE,
    "use_rms_prop": _FLAG,
    "buffer_size": _COUNT,
    "learning_starts": Arg("int", "[0, inf)"),
    "tau": Arg("float", "(0, 1]"),
    "train_freq": Arg("int", "[1, inf)", units=("step", "episode")),
    "gradient_steps": Arg("int", "[1, inf)", also=(-1,)),
    "optimize_memory_usage": _FLAG,
    "target_update_interval": _COUNT,
    "exploration_fraction": Arg("float", "(0, 1]"),
    "exploration_initial_eps": _UNIT,
    "exploration_final_eps": _UNIT,
    "target_entropy": Arg("float", "(-inf, inf)", also=("auto",)),
    "use_sde_at_warmup": _FLAG,
    "n_envs": Arg("int", "[1, 1024]"),  # each is a live env in the run's process
    "rollout_buffer_class": _OBJECT,
    "replay_buffer_class": _OBJECT,
    "action_noise": _OBJECT,
}
"""SB3's constructor arguments (and rl-zoo3's ``n_envs``), by name, for every algorithm."""

AT_MOST: tuple[tuple[str, str], ...] = (("batch_size", "buffer_size"), ("n_steps", "buffer_size"))
"""Pairs (a, b) of arguments with a <= b, where the algorithm takes both: a replay buffer
cannot give a batch, or an n-step return, longer than itself."""

ALGO_HYPERPARAMS: dict[str, dict[str, Arg]] = {
    "sac": {"ent_coef": Arg("float", "[0, inf)", also=("auto", "auto_<number>"))},
}
"""Where an algorithm takes an argument of the same name differently."""

POLICY_KWARGS: dict[str, Arg] = {
    "ortho_init": _FLAG,
    "log_std_init": Arg("float", "(-inf, inf)"),
    "full_std": _FLAG,
    "use_expln": _FLAG,
    "squash_output": _FLAG,
    "share_features_extractor": _FLAG,
    "normalize_images": _FLAG,
    "clip_mean": _POSITIVE,
    "n_critics": _COUNT,
    "optimizer_class": _OBJECT,
}

NORMALIZE_KWARGS: dict[str, Arg] = {
    "training": _FLAG,
    "norm_obs": _FLAG,
    "norm_reward": _FLAG,
    "clip_obs": _POSITIVE,
    "clip_reward": _POSITIVE,
    "gamma": _UNIT,
    "epsilon": _POSITIVE,
}


def hyperparam_table(algo: str) -> dict[str, Arg]:
    return {**HYPERPARAMS, **ALGO_HYPERPARAMS.get(algo, {})}


def check_net_arch(algo: str, net_arch: Any, path: str) -> None:
    """Hidden sizes: a list of integers >= 1, or ``{pi: [...], vf: [...]}`` (``{pi, qf}`` for
    SAC; DQN takes a list only)."""
    heads = {"ppo": ("pi", "vf"), "a2c": ("pi", "vf"), "sac": ("pi", "qf")}.get(algo, ())
    if isinstance(net_arch, dict):
        if not heads:
            raise FieldError(path, f"{algo} takes a list of hidden sizes, got a mapping")
        for key, sizes in net_arch.items():
            if key not in heads:
                raise FieldError(
                    join(path, key), f"not a head of {algo}; heads: {', '.join(heads)}"
                )
            if not isinstance(sizes, list):
                raise FieldError(join(path, key), f"must be a list of sizes, got {sizes!r}")
            check_net_arch("dqn", sizes, join(path, key))  # one head: a list
        return
    if not isinstance(net_arch, list):
        raise FieldError(path, f"must be a list of hidden sizes or a mapping, got {net_arch!r}")
    for i, size in enumerate(net_arch):
        check_arg(_LAYER, size, join(path, i))
