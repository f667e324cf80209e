"""One W&B check per study, before any training, so that W&B never costs a run.

* ``online`` without an API key is a mistake in the input: ``UserError`` (exit 2) naming
  ``tracking.wandb.mode``, with the fix.
* ``online`` with a key: one request to W&B's API, at most ``CHECK_TIMEOUT_S``. W&B unreachable
  or not answering properly: the whole study logs offline instead, with a warning that gives
  the ``wandb sync`` command. The key rejected (HTTP 401): ``UserError``, with the fix.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rltransfer.config.spec import WandbSpec
from rltransfer.errors import UserError
from rltransfer.tracking.resolve import mode_origin, resolve_wandb, sync_command

CHECK_TIMEOUT_S = 15.0
"""Longest wait for the reachability check, in seconds (DNS included)."""


def base_url() -> str:
    """The W&B server: ``WANDB_BASE_URL``, else wandb's own default."""
    url = os.environ.get("WANDB_BASE_URL")
    if url:
        return url.rstrip("/")
    import wandb

    return str(wandb.Settings().base_url).rstrip("/")


@dataclass(frozen=True)
class Credentials:
    """Where wandb would find credentials, and the API key when it is one (None for an
    identity token, or a key set earlier in this process, which are not checked)."""

    source: str
    api_key: str | None = None


def find_credentials(url: str) -> Credentials | None:
    """The credentials wandb would use for ``url``: ``WANDB_API_KEY``,
    ``WANDB_IDENTITY_TOKEN_FILE``, the ``.netrc`` entry ``wandb login`` writes, or a key set
    earlier in this process (``wandb.login(key=...)``); None when there are none."""
    if os.environ.get("WANDB_API_KEY"):
        return Credentials("WANDB_API_KEY", os.environ["WANDB_API_KEY"])
    if os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return Credentials("WANDB_IDENTITY_TOKEN_FILE")
    try:
        from wandb.sdk.lib import wbauth

        key = wbauth.read_netrc_auth(host=url)
        if key:
            return Credentials("netrc", key)
        if wbauth.session_credentials(host=url) is not None:
            return Credentials("session")
    except Exception:  # an unreadable netrc or changed wandb internals: no key found there
        pass
    return None


def find_api_key(url: str) -> str | None:
    """Where the credentials for ``url`` come from (``find_credentials``), or None."""
    found = find_credentials(url)
    return found.source if found is not None else None


OK, REJECTED, UNAVAILABLE = "ok", "rejected", "unavailable"
_VIEWER = json.dumps({"query": "query Viewer { viewer { id } }"}).encode()


def check_server(
    url: str, api_key: str | None = None, timeout: float = CHECK_TIMEOUT_S
) -> tuple[str, str]:
    """One request to the W&B server at ``url``, at most ``timeout`` seconds (DNS included: it
    runs in a daemon thread). With ``api_key``: W&B's GraphQL ``viewer`` query, so that a
    server that answers but refuses the API (a proxy, an outage) counts as unavailable and a
    rejected key (HTTP 401) as ``REJECTED``; without: any HTTP answer to a GET will do.
    Returns ``(OK | REJECTED | UNAVAILABLE, reason)``."""
    outcome: list[tuple[str, str]] = []

    def probe() -> None:
        if api_key is None:
            request = urllib.request.Request(url, method="GET")
        else:
            auth = base64.b64encode(f"api:{api_key}".encode()).decode()
            request = urllib.request.Request(
                f"{url}/graphql",
                data=_VIEWER,
                method="POST",
                headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            )
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                outcome.append((OK, ""))
        except urllib.error.HTTPError as e:
            if api_key is None:  # the server answered
                outcome.append((OK, ""))
            elif e.code == 401:
                outcome.append((REJECTED, f"HTTP 401 {e.reason}"))
            else:
                outcome.append((UNAVAILABLE, f"HTTP {e.code} {e.reason} from {url}/graphql"))
        except Exception as e:  # URLError, timeouts, TLS errors, bad URLs
            outcome.append((UNAVAILABLE, f"{type(e).__name__}: {getattr(e, 'reason', e)}"))

    thread = threading.Thread(target=probe, name="wandb-preflight", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else (UNAVAILABLE, f"no answer within {timeout:.0f} s")


def check_reachable(url: str, timeout: float = CHECK_TIMEOUT_S) -> str | None:
    """None when ``url`` answers a GET (any HTTP status) within ``timeout`` seconds, else why
    not."""
    status, reason = check_server(url, None, timeout)
    return None if status == OK else reason


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
    without an API key, or with one the server rejects, raises ``UserError``; online with W&B
    unreachable or not answering its API (``check_server``, at most ``timeout`` seconds)
    returns the settings with ``mode: offline`` after calling ``warn`` with the reason and the
    ``wandb sync`` command."""
    resolved = resolve_wandb(spec)
    if resolved.mode != "online":
        return resolved
    url = base_url()
    credentials = find_credentials(url)
    if credentials is None:
        raise UserError(
            f"tracking.wandb.mode: online (from {mode_origin(spec)}) needs a W&B API key for "
            f"{url}, and none was found (WANDB_API_KEY, ~/.netrc). Fix: run `wandb login`, or "
            "set WANDB_API_KEY, or log offline with --wandb offline (upload later with "
            "`wandb sync`)."
        )
    status, reason = check_server(url, credentials.api_key, timeout)
    if status == OK:
        return resolved
    if status == REJECTED:
        raise UserError(
            f"tracking.wandb.mode: online (from {mode_origin(spec)}): {url} rejected the W&B API "
            f"key from {credentials.source} ({reason}). Fix: run `wandb login --relogin`, or set "
            "WANDB_API_KEY to a valid key, or log offline with --wandb offline."
        )
    warn(
        f"warning: W&B is unreachable at {url} ({reason}); this study logs to W&B offline "
        f"instead. Upload its runs later with: {sync_command(resolved.dir or study_dir)}"
    )
    return replace(resolved, mode="offline")
