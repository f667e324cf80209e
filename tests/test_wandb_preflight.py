"""The W&B preflight: online without a key stops the study (exit 2); an unreachable W&B never
costs a run (the study, or a run whose init fails, logs offline instead)."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rltransfer import run_study
from rltransfer.cli import main
from rltransfer.config.spec import WandbSpec
from rltransfer.errors import UserError
from rltransfer.tracking import open_run_tracker, preflight
from rltransfer.tracking.offline_reader import read_offline_runs
from rltransfer.tracking.preflight import check_reachable, check_server, find_api_key

FAKE_KEY = "x" * 40


@pytest.fixture
def no_wandb_env(monkeypatch, tmp_path):
    """No W&B variables, and a netrc path that does not exist: no key anywhere."""
    for var in (
        "WANDB_API_KEY",
        "WANDB_IDENTITY_TOKEN_FILE",
        "WANDB_MODE",
        "WANDB_PROJECT",
        "WANDB_ENTITY",
        "WANDB_DIR",
        "WANDB_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return monkeypatch


def _job_types(wandb_dir: Path) -> list[str]:
    """The job types of the offline runs under ``wandb_dir``, once W&B's service has written
    them all (it may still be flushing the last record file when ``finish()`` returns)."""
    deadline = time.monotonic() + 15
    while True:
        types = sorted(r.job_type for r in read_offline_runs(wandb_dir))
        if all(types) and len(types) >= 4 or time.monotonic() > deadline:
            return types
        time.sleep(0.2)


def _closed_port_url() -> str:
    """A local URL nothing listens on: connections are refused (no network needed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Handler(http.server.BaseHTTPRequestHandler):
    """A stand-in W&B server: answers GET, and the GraphQL ``viewer`` query at ``/graphql``
    (200 for ``FAKE_KEY``, else 401), so the preflight passes; every other API call gets 404,
    so a run's ``wandb.init`` fails."""

    def do_GET(self) -> None:
        self._reply(200, b"ok")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/graphql" or b"viewer" not in body:
            self._reply(404, b"{}")
        elif (
            self.headers.get("Authorization")
            == "Basic " + base64.b64encode(f"api:{FAKE_KEY}".encode()).decode()
        ):
            self._reply(200, b'{"data": {"viewer": {"id": "u1"}}}')
        else:
            self._reply(401, b'{"errors": ["invalid key"]}')

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_online_without_a_key_exits_2_naming_the_field_and_the_fix(
    no_wandb_env, tiny_study, write_study, capsys
):
    path = write_study(tiny_study)
    out = path.parent / "out"
    assert main(["run", str(path), "--wandb", "online", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tracking.wandb.mode: online" in err
    for fix in ("wandb login", "WANDB_API_KEY", "--wandb offline"):
        assert fix in err
    assert "Traceback" not in err
    assert not out.exists()  # stopped before anything was written or trained


def test_online_from_wandb_mode_says_where_it_came_from(no_wandb_env, tmp_path):
    no_wandb_env.setenv("WANDB_MODE", "online")
    with pytest.raises(UserError, match=r"tracking.wandb.mode: online \(from WANDB_MODE\)"):
        preflight(WandbSpec(), tmp_path)


def test_a_netrc_key_counts_as_a_key(no_wandb_env, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine wandb.test.example\n  login user\n  password {FAKE_KEY}\n")
    netrc.chmod(0o600)
    no_wandb_env.setenv("NETRC", str(netrc))
    assert find_api_key("https://wandb.test.example") == "netrc"
    assert find_api_key("http://elsewhere.example") is None


def test_unreachable_wandb_falls_back_to_offline_with_the_sync_command(no_wandb_env, tmp_path):
    no_wandb_env.setenv("WANDB_API_KEY", FAKE_KEY)
    no_wandb_env.setenv("WANDB_BASE_URL", _closed_port_url())
    warnings: list[str] = []
    resolved = preflight(WandbSpec(mode="online", project="p"), tmp_path, warn=warnings.append)
    assert resolved.mode == "offline" and resolved.project == "p"
    (message,) = warnings
    assert "unreachable" in message
    assert f"wandb sync {tmp_path}/wandb/offline-run-*" in message


def test_reachability_check_is_bounded():
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        start = time.monotonic()
        problem = check_reachable(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=1.0)
        elapsed = time.monotonic() - start
    assert problem is not None
    assert 0.9 < elapsed < 10.0  # bounded by the timeout (loose: a busy 2-core CI machine)


def test_a_server_that_answers_is_reachable(local_server):
    assert check_reachable(local_server) is None
    assert check_reachable(local_server + "/missing") is None  # any HTTP status will do


def test_the_preflight_asks_the_api_with_the_key(no_wandb_env, local_server, tmp_path):
    assert check_server(local_server, FAKE_KEY, timeout=5)[0] == "ok"
    assert check_server(local_server, "y" * 40, timeout=5)[0] == "rejected"
    # a server that answers, but not as W&B's API (a proxy, an outage): unavailable
    assert check_server(local_server + "/proxy", FAKE_KEY, timeout=5)[0] == "unavailable"
    no_wandb_env.setenv("WANDB_API_KEY", "y" * 40)
    no_wandb_env.setenv("WANDB_BASE_URL", local_server)
    with pytest.raises(UserError, match="rejected the W&B API key from WANDB_API_KEY") as e:
        preflight(WandbSpec(mode="online"), tmp_path)
    assert "tracking.wandb.mode" in str(e.value) and "--wandb offline" in str(e.value)
    no_wandb_env.setenv("WANDB_API_KEY", FAKE_KEY)
    no_wandb_env.setenv("WANDB_BASE_URL", local_server + "/proxy")
    warnings: list[str] = []
    assert preflight(WandbSpec(mode="online"), tmp_path, warn=warnings.append).mode == "offline"
    assert "HTTP 404" in warnings[0] and "wandb sync" in warnings[0]


def test_failed_online_init_logs_the_run_offline(no_wandb_env, local_server, tmp_path, capfd):
    """The preflight passes (the server answers), but W&B's API refuses the run: the run logs
    offline under the same id instead of failing."""
    no_wandb_env.setenv("WANDB_API_KEY", FAKE_KEY)
    no_wandb_env.setenv("WANDB_BASE_URL", local_server)
    no_wandb_env.setenv("WANDB_INIT_TIMEOUT", "10")
    spec = preflight(WandbSpec(mode="online", project="rlt-test"), tmp_path)
    assert spec.mode == "online"
    tracker = open_run_tracker(
        spec,
        tmp_path,
        run_id="fallback1",
        name="n",
        group="g",
        job_type="target",
        config={},
        tags=["target"],
    )
    tracker.log_eval(0, 1.0, 0.0, 3)
    tracker.log_eval(128, 2.0, 0.0, 3)
    tracker.finish()
    assert "online init failed" in capfd.readouterr().err
    deadline = time.monotonic() + 15  # W&B's service may still be flushing the record file
    while True:
        runs = [r for r in read_offline_runs(tmp_path / "wandb") if r.run_id == "fallback1"]
        rows = [h for r in runs for h in r.history if "eval/return_mean" in h]
        if len(rows) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(h["timesteps"], h["eval/return_mean"]) for h in rows] == [(0, 1.0), (128, 2.0)]


def test_online_study_without_network_finishes_offline_with_every_curve(
    no_wandb_env, tiny_study, tmp_path, capfd
):
    """The done-criterion at test size: ``--wandb online``, a key, no W&B reachable."""
    no_wandb_env.setenv("WANDB_API_KEY", FAKE_KEY)
    no_wandb_env.setenv("WANDB_BASE_URL", _closed_port_url())
    tiny_study["seeds"] = 1
    start = time.monotonic()
    result = run_study(tiny_study, out=tmp_path, quiet=True, wandb="online")
    elapsed = time.monotonic() - start
    assert set(result.curves) == {"scratch", "finetune"}
    assert all(set(c) == {0} for c in result.curves.values())
    err = capfd.readouterr().err
    assert f"wandb sync {result.out_dir}/wandb/offline-run-*" in err
    assert "online init failed" not in err  # the preflight switched the study; no run waited
    assert _job_types(result.out_dir / "wandb") == ["source", "summary", "target", "target"]
    assert elapsed < 60  # no run waits for W&B's init timeout
    assert "mode: offline" in (Path(result.out_dir) / "study.yaml").read_text()


def test_online_study_whose_inits_fail_keeps_every_curve(
    no_wandb_env, local_server, tiny_study, tmp_path, capfd
):
    """The preflight finds a server, but it refuses every run: each run logs offline, and only
    the first one waits for W&B."""
    no_wandb_env.setenv("WANDB_API_KEY", FAKE_KEY)
    no_wandb_env.setenv("WANDB_BASE_URL", local_server)
    no_wandb_env.setenv("WANDB_INIT_TIMEOUT", "10")
    tiny_study["seeds"] = 1
    result = run_study(tiny_study, out=tmp_path, quiet=True, wandb="online")
    assert all(set(c) == {0} for c in result.curves.values()) and len(result.curves) == 2
    err = capfd.readouterr().err
    assert err.count("online init failed") == 1  # then the process stops asking
    # 2 targets and the summary (and a negative-transfer tagging, should there be one)
    assert err.count("as W&B failed earlier in this process") >= 3
    assert _job_types(result.out_dir / "wandb") == ["source", "summary", "target", "target"]
