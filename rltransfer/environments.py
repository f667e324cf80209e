"""Resolve a study's environment spec into Gymnasium environments.

An ``EnvSpec.id`` is one of:

* a registered Gymnasium id (``CartPole-v1``, ``rltransfer/CartPole-v0``);
* ``module:Id``: the module is imported (it registers ``Id``), then ``Id`` is made;
* ``module:Class``: an entry point, instantiated with the kwargs.

Wrappers are ``module:Class`` or a class name in ``gymnasium.wrappers``, applied in order.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

import rltransfer.envs  # noqa: F401  (registers the testbed's families)
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import EnvSpec, WrapperSpec
from rltransfer.envs import EnvParameterError
from rltransfer.envs import wrappers as own_wrappers
from rltransfer.errors import did_you_mean


@dataclass(frozen=True)
class ResolvedEnv:
    """How to build an env: a registered ``gym_id`` or an entry-point ``env_class``."""

    gym_id: str | None
    env_class: type | None

    @property
    def entry(self) -> Callable[..., Any]:
        if self.env_class is not None:
            return self.env_class
        return gym.envs.registration.load_env_creator(gym.spec(self.gym_id).entry_point)


def _import(module: str, path: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise FieldError(path, f"cannot import module '{module}' ({e})") from None
    except (Exception, SystemExit) as e:  # noqa: BLE001 - a user's module may raise anything
        raise FieldError(
            path, f"importing module '{module}' raised {type(e).__name__}: {e}"
        ) from None


def resolve_env_id(env_id: str, path: str) -> ResolvedEnv:
    """Find what ``env_id`` names; ``path`` is the field for error messages."""
    if ":" in env_id:
        module_name, _, name = env_id.partition(":")
        module = _import(module_name, path)
        attr = getattr(module, name, None) if name.isidentifier() else None
        if inspect.isclass(attr) and issubclass(attr, gym.Env):
            return ResolvedEnv(None, attr)
        if name in gym.registry:
            return ResolvedEnv(name, None)
        raise FieldError(
            path,
            f"'{module_name}' neither registers environment '{name}' nor defines a gymnasium.Env "
            f"class of that name{did_you_mean(name, list(gym.registry))}",
        )
    if env_id in gym.registry:
        return ResolvedEnv(env_id, None)
    raise FieldError(path, f"unknown environment '{env_id}'{did_you_mean(env_id, gym.registry)}")


def resolve_wrapper(w: WrapperSpec, path: str) -> type:
    """``module:Class``, or a short name: a class of ``gymnasium.wrappers``, else one of
    rltransfer's pixel wrappers (``rltransfer.envs.wrappers``: ``PixelObservation``, ...)."""
    if ":" in w.entry:
        module_name, _, name = w.entry.partition(":")
        cls = getattr(_import(module_name, path), name, None)
    else:
        name = w.entry
        cls = getattr(gym.wrappers, name, None)
        if cls is None and name in own_wrappers.__all__:
            cls = getattr(own_wrappers, name)
    if not inspect.isclass(cls) or not issubclass(cls, gym.Wrapper):
        known = [n for n in dir(gym.wrappers) if not n.startswith("_")]
        known += [n for n in own_wrappers.__all__ if n[0].isupper()]
        raise FieldError(path, f"'{w.entry}' is not a gymnasium wrapper{did_you_mean(name, known)}")
    return cls


def make_env(spec: EnvSpec, render_mode: str | None = None) -> gym.Env:
    """Build one environment from ``spec`` (no validation messages; see ``check_env_spec``)."""
    resolved = resolve_env_id(spec.id, "id")
    kwargs = dict(spec.kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if resolved.gym_id is not None:
        env = gym.make(resolved.gym_id, **kwargs)
    else:
        env = resolved.env_class(**kwargs)
    for w in spec.wrappers:
        env = resolve_wrapper(w, "wrappers")(env, **w.kwargs)
    return env


_UNEXPECTED_KWARG = re.compile(r"unexpected keyword argument '([^']+)'")


def _parameter_names(entry: Callable[..., Any]) -> list[str]:
    try:
        params = inspect.signature(entry).parameters
    except (TypeError, ValueError):
        return []
    return [p for p in params if p not in ("self", "render_mode")]


def check_env_spec(spec: EnvSpec, path: str) -> gym.Env:
    """Make the env once; any failure becomes a ``FieldError`` naming the kwarg or wrapper."""
    resolved = resolve_env_id(spec.id, join(path, "id"))
    for i, w in enumerate(spec.wrappers):
        resolve_wrapper(w, join(join(path, "wrappers"), i))
    try:
        return make_env(spec)
    except EnvParameterError as e:
        raise FieldError(join(join(path, "kwargs"), e.param), e.reason) from None
    except TypeError as e:
        m = _UNEXPECTED_KWARG.search(str(e))
        if m and m.group(1) in spec.kwargs:
            known = _parameter_names(resolved.entry)
            raise FieldError(
                join(join(path, "kwargs"), m.group(1)),
                f"unknown parameter of '{spec.id}'{did_you_mean(m.group(1), known)}; "
                f"known: {', '.join(known) or 'none'}",
            ) from None
        raise FieldError(path, f"could not create the environment: {e}") from None
    except Exception as e:  # a user's env may raise anything when given bad kwargs
        raise FieldError(
            path, f"could not create the environment: {type(e).__name__}: {e}"
        ) from None


def innermost(venv: Any) -> Any:
    """The VecEnv at the bottom of a chain of VecEnv wrappers (e.g. the ``DummyVecEnv``)."""
    from stable_baselines3.common.vec_env import VecEnv

    while isinstance(getattr(venv, "venv", None), VecEnv):
        venv = venv.venv
    return venv
