"""One W&B check per study, before any training, so that W&B never costs a run.

* ``online`` without an API key is a mistake in the input: ``UserError`` (exit 2) naming
  ``tracking.wandb.mode``, with the fix.
* ``online`` with a key but W&B unreachable (one request, at most ``CHECK_TIMEOUT_S``): the whole
  study logs offline instead, with a warning that gives the ``wandb sync`` command.
"""

from __future__ import annotations

import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rltransfer.config.spec import WandbSpec
from rltransfer.errors import UserError
from rltransfer.tracking.resolve import mode_origin, resolve_wandb

CHECK_TIMEOUT_S = 15.0
"""Longest wait for the reachability check, in seconds (DNS included)."""


def base_url() -> str:
    """The W&B server: ``WANDB_BASE_URL``, else wandb's own default."""
    url = os.environ.get("WANDB_BASE_URL")
    if url:
        return url.rstrip("/")
    import wandb

    return str(wandb.Settings().base_url).rstrip("/")


def find_api_key(url: str) -> str | None:
    """Where wandb would find credentials for ``url``: ``WANDB_API_KEY``,
    ``WANDB_IDENTITY_TOKEN_FILE``, the ``.netrc`` entry ``wandb login`` writes, or a key set
    earlier in this process (``wandb.login(key=...)``); None when there is none."""
    for var in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE"):
        if os.environ.get(var):
            return var
    try:
        from wandb.sdk.lib import wbauth

        if wbauth.read_netrc_auth(host=url):
            return "netrc"
        if wbauth.session_credentials(host=url) is not None:
            return "session"
    except Exception:  # an unreadable netrc or a changed wandb internals: no key found there
        pass
    return None


def check_reachable(url: str, timeout: float = CHECK_TIMEOUT_S) -> str | None:
    """None when ``url`` answers an HTTPS request (any HTTP status) within ``timeout`` seconds;
    else why not. Runs in a daemon thread, so a hanging DNS lookup cannot exceed the bound."""
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout)
            outcome.append(None)
        except urllib.error.HTTPError:  # the server answered: reachable
            outcome.append(None)
        except Exception as e:  # URLError, timeouts, TLS errors, bad URLs
            reason = getattr(e, "reason", e)
            outcome.append(f"{type(e).__name__}: {reason}")

    thread = threading.Thread(target=probe, name="wandb-preflight", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:.0f} s"


def sync_command(wandb_root: str | Path) -> str:
    """The command that uploads a study's offline runs later."""
    return f"wandb sync {Path(wandb_root) / 'wandb'}/offline-run-*"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def preflight(
    spec: WandbSpec,
    study_dir: Path,
    *,
    warn: Callable[[str], None] = _stderr,
    timeout: float = CHECK_TIMEOUT_S,
) -> WandbSpec:
    """The study's effective W&B settings (``resolve_wandb``), checked once before training.

    ``study_dir``: the study's result folder, where W&B writes unless ``dir`` is set. Online
    without an API key raises ``UserError``; online with W&B unreachable returns the settings
    with ``mode: offline`` after calling ``warn`` with the reason and the ``wandb sync``
    command."""
    from rltransfer.tracking import wandb_tracker

    wandb_tracker.online_failed.clear()  # a new study tries online again
    resolved = resolve_wandb(spec)
    if resolved.mode != "online":
        return resolved
    url = base_url()
    if find_api_key(url) is None:
        raise UserError(
            f"tracking.wandb.mode: online (from {mode_origin(spec)}) needs a W&B API key for "
            f"{url}, and none was found (WANDB_API_KEY, ~/.netrc). Fix: run `wandb login`, or "
            "set WANDB_API_KEY, or log offline with --wandb offline (upload later with "
            "`wandb sync`)."
        )
    problem = check_reachable(url, timeout)
    if problem is None:
        return resolved
    warn(
        f"warning: W&B is unreachable at {url} ({problem}); this study logs to W&B offline "
        f"instead. Upload its runs later with: {sync_command(resolved.dir or study_dir)}"
    )
    return replace(resolved, mode="offline")
