"""Every registered ``rltransfer/`` id: Gymnasium's and stable-baselines3's env checkers, the
catalogue (``rltransfer envs``) and the study-file error path for bad kwargs."""

from __future__ import annotations

import json
import warnings
from typing import Any

import gymnasium as gym
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rltransfer.envs import get_family, list_families

REGISTERED = sorted(i for i in gym.registry if i.startswith("rltransfer/"))
EXTRA_MODULE = {"minigrid": "minigrid", "atari": "ale_py"}
# Variants checked besides the defaults: each observation mode and every knob turned at once.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "rltransfer/PixelGrid-v0": [
        {"obs_mode": "state"},
        {"obs_mode": "both", "size": 40},
        dict(layout="rooms", grid=9, goal="random", start="top-left", slip=0.2,
             action_perm=[3, 2, 1, 0], shaping=0.1, palette="light", texture="noise", noise=0.5,
             distractors=3, size=48),
    ],
}  # fmt: skip
CASES = [(i, {}) for i in REGISTERED] + [(i, kw) for i, kws in VARIANTS.items() for kw in kws]
# Warnings that Gymnasium's own classic-control spaces draw.
KNOWN = ("infinity", "symmetric and normalized")


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make``, skipping the test when the family's optional dependency is missing."""
    extra = get_family(env_id).extra
    if extra:
        pytest.importorskip(EXTRA_MODULE[extra])
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=lambda x: str(x))
def test_gymnasium_env_checker_passes(env_id: str, kwargs: dict[str, Any]) -> None:
    env = make(env_id, **kwargs).unwrapped
    # A "human" render mode means a pygame window; once pygame's display has started, importing
    # torchvision later in the session segfaults, so those envs skip the render check.
    needs_pygame = "human" in env.metadata.get("render_modes", [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=needs_pygame)
    messages = [str(w.message) for w in caught if not any(k in str(w.message) for k in KNOWN)]
    assert messages == []


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=lambda x: str(x))
def test_stable_baselines3_env_checker_passes(env_id: str, kwargs: dict[str, Any]) -> None:
    env = make(env_id, **kwargs).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    # SB3 suggests normalising Box spaces that are not symmetric (classic control) and flags
    # images smaller than NatureCNN's 36 x 36 minimum; anything else fails.
    ignored = ("symmetric and normalized", "normalize", "36x36")
    assert [str(w.message) for w in caught if not any(k in str(w.message) for k in ignored)] == []


def describe(space: spaces.Space) -> str:
    """The catalogue's notation: ``discrete(n)``, ``box(n)``, or ``pixels(HxWxC)``."""
    if isinstance(space, spaces.Discrete):
        return f"discrete({space.n})"
    if len(space.shape) == 3:
        return "pixels({}x{}x{})".format(*space.shape)
    return f"box({space.shape[0]})"


def test_list_families_covers_the_registry_and_is_json() -> None:
    families = list_families()
    assert json.loads(json.dumps(families)) == families
    assert sorted(f["id"] for f in families) == REGISTERED
    for f in families:
        assert list(f) == ["id", "params", "observation", "action", "description",
                           "max_episode_steps", "reward_threshold", "knobs", "extra"]  # fmt: skip
        assert f["description"] and "\n" not in f["description"]
        grouped = [name for names in f["knobs"].values() for name in names]
        assert sorted(grouped) == sorted(f["params"])  # every parameter on exactly one axis
        assert set(f["knobs"]) <= {"appearance", "task", "dynamics", "reward", "observation"}
        assert all(
            isinstance(note, str) for names in f["knobs"].values() for note in names.values()
        )


def test_pixelgrid_has_a_knob_on_every_axis() -> None:
    knobs = next(f for f in list_families() if f["id"] == "rltransfer/PixelGrid-v0")["knobs"]
    assert list(knobs) == ["appearance", "task", "dynamics", "reward", "observation"]
    assert {"palette", "texture", "noise", "distractors"} <= set(knobs["appearance"])
    assert {"goal", "layout"} <= set(knobs["task"])
    assert set(knobs["dynamics"]) == {"slip", "action_perm"}
    assert set(knobs["reward"]) == {"goal_reward", "step_penalty", "shaping"}


@pytest.mark.parametrize("family", list_families(), ids=lambda f: f["id"])
def test_catalogue_matches_a_default_made_env(family: dict[str, Any]) -> None:
    env = (wrapped := make(family["id"])).unwrapped
    assert family["params"] == {name: getattr(env, name) for name in family["params"]}
    assert family["observation"] == describe(env.observation_space).replace("box", "vector")
    assert family["action"] == describe(env.action_space)
    assert family["max_episode_steps"] == wrapped.spec.max_episode_steps
    assert family["reward_threshold"] == wrapped.spec.reward_threshold


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"slip": 1.5}, "kwargs.slip"), ({"palette": {"goal": [0, 0, 256]}}, "kwargs.palette.goal"),
     ({"sizee": 32}, "kwargs.sizee")],
    ids=["slip", "palette", "unknown"],
)  # fmt: skip
def test_bad_kwargs_stop_a_study_naming_the_field(
    kwargs: dict[str, Any], field: str, tiny_study: dict[str, Any]
) -> None:
    from rltransfer.errors import UserError
    from rltransfer.validation import load_study

    tiny_study["target"]["env"] = {"id": "rltransfer/PixelGrid-v0", "kwargs": kwargs}
    with pytest.raises(UserError, match=rf"target\.env\.{field}: "):
        load_study(tiny_study)
