"""The ``adapt`` method: an input adapter for another observation size, loading by name and
shape, fresh output layers for another action space, studies across spaces end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import rltransfer.envs  # noqa: F401  (registers the families)
from rltransfer.agents import build_model
from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
from rltransfer.cli import main
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import PolicySpec
from rltransfer.methods import METHODS, BuildPlan, SourceArtifact, TransferContext
from rltransfer.methods.layers import is_target, policy_groups
from rltransfer.vision.adapters import InputAdapter, adapter_config
from rltransfer.vision.plan import prepare_env
from rltransfer.vision.sb3 import VisionExtractor

HP = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}
POLICY = PolicySpec("tiny_mlp", net_arch=[8])
ACTION_DIFFERS = "re-initialised: output (action space differs)"
PIXELS = "rltransfer.envs.vision_testing:GridPixelEnv"


class Dims(gym.Env):
    """Random ``d``-dimensional observations, ``Discrete(n)`` actions, 20-step episodes."""

    def __init__(self, d: int = 6, n: int = 3):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (d,), np.float32)
        self.action_space = gym.spaces.Discrete(n)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return self.np_random.normal(size=self.observation_space.shape).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> Any:
        self.t += 1
        return self._obs(), 1.0, False, self.t >= 20, {}


class Continuous(Dims):
    """``Dims`` with ``Box(-1, 1, (a,))`` actions."""

    def __init__(self, d: int = 4, a: int = 2):
        super().__init__(d)
        self.action_space = gym.spaces.Box(-1, 1, (a,), np.float32)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> SourceArtifact:
    """PPO on CartPole (4 observations, Discrete(2)), trained a little and saved."""
    path = tmp_path_factory.mktemp("adapt") / "source.zip"
    venv = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    model = build_model("ppo", venv, hyperparams=HP, policy=POLICY, seed=100, device="cpu")
    model.learn(64)
    model.save(path)
    return SourceArtifact(path)


def _method(options: dict[str, Any] | None = None) -> Any:
    cls = METHODS["adapt"]
    return cls(cls.parse_options(options or {}, "methods[1]"))


def _target(source: SourceArtifact, d: int, n: int, options: Any = None, transfer: bool = True):
    """The target model for ``Dims(d, n)`` built as a run builds it (``configure``, vision
    setup, seeded build), then ``apply`` unless ``transfer`` is False (the fresh reference)."""
    method = _method(options)
    venv = DummyVecEnv([lambda: Dims(d, n)])
    plan = BuildPlan("ppo", POLICY, dict(HP), venv.observation_space, venv.action_space)
    method.configure(plan, source)
    venv, setup = prepare_env(venv, plan.policy, device="cpu", seed=3, extra=plan.extractor)
    model = build_model(
        "ppo", venv, hyperparams=plan.hyperparams, seed=3, device="cpu", setup=setup
    )
    record = method.apply(TransferContext(model, venv, source)).to_json() if transfer else None
    return method, model, record


def _state(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


# --- the adapter module ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "d_in,d_out,mapping,expected",
    [
        (6, 4, None, lambda x: x[:, :4]),  # extra target coordinates start ignored
        (3, 4, None, lambda x: F.pad(x, (0, 1))),  # the missing source input starts at 0
        (3, 4, [2, None, 0, 0], lambda x: torch.stack([x[:, 2], 0 * x[:, 0], x[:, 0], x[:, 0]], 1)),
    ],
)
def test_vector_adapter_starts_passing_the_mapped_coordinates_through(
    d_in, d_out, mapping, expected
):
    config = adapter_config(SpaceInfo("Box", (d_out,)), SpaceInfo("Box", (d_in,)), mapping)
    adapter = InputAdapter(config)
    x = torch.randn(5, d_in)
    assert torch.equal(adapter(x), expected(x))
    assert [n for n, _ in adapter.named_parameters()] == ["weight", "bias"]
    assert adapter.weight.shape == (d_out, d_in) and not adapter.bias.any()
    assert adapter.describe().startswith("before the encoder: learned linear map")


def test_image_adapter_resizes_and_maps_channels():
    x = torch.rand(2, 1, 24, 24)
    gray_to_rgb = InputAdapter({"in_shape": [1, 24, 24], "out_shape": [3, 32, 32]})
    y = gray_to_rgb(x)
    resized = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    assert y.shape == (2, 3, 32, 32)
    assert torch.allclose(y, resized.repeat(1, 3, 1, 1), atol=1e-6)  # replicated channel
    rgb = torch.rand(2, 3, 32, 32)
    to_gray = InputAdapter({"in_shape": [3, 32, 32], "out_shape": [1, 16, 16]})
    shrunk = F.interpolate(rgb, size=(16, 16), mode="bilinear", antialias=True)
    assert torch.allclose(to_gray(rgb), shrunk.mean(1, keepdim=True), atol=1e-6)
    four = InputAdapter({"in_shape": [4, 8, 8], "out_shape": [3, 8, 8]})
    x4 = torch.rand(2, 4, 8, 8)
    assert torch.allclose(four(x4), x4[:, :3], atol=1e-6)  # identity on the shared channels
    resize_only = InputAdapter({"in_shape": [3, 24, 24], "out_shape": [3, 32, 32]})
    assert not list(resize_only.parameters())  # a resize has no parameters
    assert "no parameters" in resize_only.describe()


def test_equal_spaces_need_no_adapter(source):
    method = _method()
    venv = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    plan = BuildPlan("ppo", POLICY, dict(HP), venv.observation_space, venv.action_space)
    method.configure(plan, source)
    assert plan.extractor == {}
    extractor = VisionExtractor(venv.observation_space, {"encoder": "tiny_mlp"})
    assert extractor.adapter is None


# --- transfer ------------------------------------------------------------------------------


def test_adapt_loads_exactly_the_compatible_tensors(source):
    """CartPole (4 obs, Discrete(2)) → Dims(6 obs, Discrete(3))."""
    src = PPO.load(source.model_path, device="cpu").policy.state_dict()
    _, reference, _ = _target(source, 6, 3, transfer=False)
    fresh = _state(reference)  # the target's fresh initialisation (same seed, no transfer)
    method, model, record = _target(source, 6, 3)
    expected = {k for k, v in src.items() if k in fresh and fresh[k].shape == v.shape}
    assert expected == set(src) - {"action_net.weight", "action_net.bias"}
    assert "features_extractor.reader.encoder.trunk.layer1.0.weight" in expected  # via the adapter
    assert set(record["loaded"]) == expected
    now = model.policy.state_dict()
    for k in expected:
        assert torch.equal(now[k], src[k]), k  # bitwise the source's
    left = [k for k in fresh if k not in expected and not is_target(k)]
    assert {k.split(".")[-2] for k in left} >= {"adapter", "action_net"}
    for k in left:
        assert torch.equal(now[k], fresh[k]), k  # the target's fresh initialisation
    assert record["skipped"] == {
        "action_net.weight": f"{ACTION_DIFFERS}: shape (2, 8) != target (3, 8)",
        "action_net.bias": f"{ACTION_DIFFERS}: shape (2,) != target (3,)",
    }
    assert set(record["fresh"]) == {
        "features_extractor.adapter.weight",
        "features_extractor.adapter.bias",
        "action_net.weight",
        "action_net.bias",
    }
    assert record["fresh"]["action_net.bias"].startswith(ACTION_DIFFERS)
    assert record["adapters"] == [
        "features_extractor.adapter: before the encoder: learned linear map 6 → 4 coordinates, "
        "initially the identity on coordinates 0-3; target coordinates 4-5 start with weight 0; "
        "bias 0"
    ]
    assert record["spaces"]["observation"] == {"source": "Box(4,)", "target": "Box(6,)"}
    assert record["groups"]["adapter"]["mode"] == "finetune"
    assert record["adapter"] == {"in_shape": [6], "out_shape": [4], "map": [0, 1, 2, 3]}
    before = model.policy.features_extractor.adapter.weight.detach().clone()
    model.learn(64)
    assert not torch.equal(model.policy.features_extractor.adapter.weight, before)  # it trains
    assert method.after_training(model)["frozen_unchanged"] == 0


@pytest.mark.parametrize("d", [6, 3])
def test_the_adapted_agent_starts_as_the_source_on_shared_coordinates(source, d):
    """t = 0: the adapted agent on [x, extra] (d = 6; extra is ignored whatever it is) or on
    x[:3] (d = 3; the missing coordinate reads 0) acts and values as the source on x / [x, 0]."""
    src = PPO.load(source.model_path, device="cpu")
    _, model, _ = _target(source, d, 2)
    x = torch.randn(16, 4)
    obs = torch.cat([x, 3 * torch.randn(16, 2)], 1) if d == 6 else x[:, :3]
    seen = x if d == 6 else torch.cat([x[:, :3], torch.zeros(16, 1)], 1)
    with torch.no_grad():
        model.policy.set_training_mode(False)
        src.policy.set_training_mode(False)
        logits = model.policy.get_distribution(obs).distribution.logits
        expected = src.policy.get_distribution(seen).distribution.logits
        torch.testing.assert_close(logits, expected)
        values = model.policy.predict_values(obs)
        torch.testing.assert_close(values, src.policy.predict_values(seen))


def test_a_map_reorders_coordinates_and_the_statistics_are_reestimated(source, tmp_path):
    """Equal sizes, ``map: [2, 0, 1, 3]``: source input i reads target coordinate map[i]; the
    source's VecNormalize statistics no longer line up, so they are re-estimated."""
    stats = tmp_path / "normalize.json"
    stats.write_text(json.dumps({"mean": [1.0] * 4, "var": [2.0] * 4, "count": 500.0}))
    artifact = SourceArtifact(source.model_path, stats)
    method = _method({"map": [2, 0, 1, 3]})
    venv = DummyVecEnv([lambda: Dims(4, 2)])
    plan = BuildPlan("ppo", POLICY, dict(HP), venv.observation_space, venv.action_space)
    method.configure(plan, artifact)
    venv, setup = prepare_env(venv, plan.policy, device="cpu", seed=0, extra=plan.extractor)
    venv = VecNormalize(venv)
    model = build_model(
        "ppo", venv, hyperparams=plan.hyperparams, seed=0, device="cpu", setup=setup
    )
    record = method.apply(TransferContext(model, venv, artifact)).to_json()
    assert record["normalization"]["vecnormalize"] == (
        "re-estimated on the target (the adapter's map reorders the coordinates)"
    )
    assert venv.obs_rms.count < 1  # not the source's 500 observations
    assert "2→0, 0→1, 1→2, 3→3" in record["adapters"][0]
    src = PPO.load(source.model_path, device="cpu").policy
    x = torch.randn(8, 4)
    with torch.no_grad():
        model.policy.set_training_mode(False)
        src.set_training_mode(False)
        values = model.policy.predict_values(x)
        torch.testing.assert_close(values, src.predict_values(x[:, [2, 0, 1, 3]]))


def test_freeze_transferred_trains_only_the_adapter_and_fresh_tensors(source):
    src = source.policy_state()
    method, model, record = _target(source, 6, 3, {"freeze_transferred": True})
    groups = policy_groups(model.policy)
    assert record["groups"]["hidden1"]["mode"] == "freeze"
    assert record["groups"]["adapter"]["mode"] == "finetune"
    assert record["groups"]["output"]["mode"] == "finetune"  # value_net loaded, action_net fresh
    params = {n for n, _ in model.policy.named_parameters()}
    assert set(record["frozen"]) == set(record["loaded"]) & params
    adapter = [n for n in params if groups["adapter"].owns(n)]
    before = _state(model)
    model.learn(64)
    now = model.policy.state_dict()
    for k in record["loaded"]:
        assert torch.equal(now[k], src[k]), k
    for k in [*adapter, "action_net.weight"]:
        assert not torch.equal(now[k], before[k]), k
    assert method.after_training(model)["frozen_unchanged"] == len(record["frozen"])


def test_a_change_of_action_kind_keeps_the_action_layers_fresh(tmp_path):
    """Discrete(2) → Box(2): ``action_net`` has the same shape, but its logits are no means."""

    discrete = DummyVecEnv([lambda: Dims(4, 2)])
    src = build_model("ppo", discrete, hyperparams=HP, policy=POLICY, seed=1, device="cpu")
    src.save(tmp_path / "d.zip")
    source = SourceArtifact(tmp_path / "d.zip")
    venv = DummyVecEnv([lambda: Continuous(4, 2)])
    model = build_model("ppo", venv, hyperparams=HP, policy=POLICY, seed=2, device="cpu")
    fresh = _state(model)
    record = _method().apply(TransferContext(model, venv, source)).to_json()
    assert "action_net.weight" not in record["loaded"] and "value_net.weight" in record["loaded"]
    assert record["skipped"]["action_net.weight"] == f"{ACTION_DIFFERS}: Discrete(2) → Box(2,)"
    assert torch.equal(model.policy.state_dict()["action_net.weight"], fresh["action_net.weight"])
    assert record["adapters"] == []


@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_off_policy_agents_adapt_and_their_target_networks_follow(algo, tmp_path):
    """DQN 4 → 6 obs, Discrete(2) → (3); SAC 3 → 5 obs, Box(1) → Box(2): every compatible
    tensor loads, the rest stays fresh with its reason, target networks equal the online ones."""
    hp = {"learning_starts": 16}
    make_source, make_target = {
        "dqn": (lambda: Dims(4, 2), lambda: Dims(6, 3)),
        "sac": (lambda: Continuous(3, 1), lambda: Continuous(5, 2)),
    }[algo]
    venv = DummyVecEnv([make_source])
    build_model(algo, venv, hyperparams=hp, policy=POLICY, seed=1, device="cpu").save(
        tmp_path / "s.zip"
    )
    source = SourceArtifact(tmp_path / "s.zip")
    src = source.policy_state()
    method = _method()
    venv = DummyVecEnv([make_target])
    plan = BuildPlan(algo, POLICY, dict(hp), venv.observation_space, venv.action_space)
    method.configure(plan, source)
    venv, setup = prepare_env(venv, plan.policy, device="cpu", seed=2, extra=plan.extractor)
    model = build_model(algo, venv, hyperparams=plan.hyperparams, seed=2, device="cpu", setup=setup)
    fresh = _state(model)
    record = method.apply(TransferContext(model, venv, source)).to_json()
    expected = {k for k, v in src.items() if k in fresh and fresh[k].shape == v.shape}
    assert set(record["loaded"]) == expected and set(record["skipped"]) == set(src) - expected
    assert all(r.startswith("re-initialised: ") for r in record["skipped"].values())
    online, target = ("q_net", "q_net_target") if algo == "dqn" else ("critic", "critic_target")
    a = getattr(model.policy, online).state_dict()
    b = getattr(model.policy, target).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(record["adapters"]) == (1 if algo == "dqn" else 2)  # SAC: actor and critic


# --- validation ------------------------------------------------------------------------------

VEC4, VEC6 = SpaceInfo("Box", (4,)), SpaceInfo("Box", (6,))
IMG = SpaceInfo("Box", (3, 32, 32))
D2 = SpaceInfo("Discrete", (), 2)


@pytest.mark.parametrize(
    "source,target,options,path,message",
    [
        (VEC4, IMG, {}, "methods[1]", "the source observes vectors Box(4,) and the target images"),
        (
            SpaceInfo("Discrete", (), 16),
            SpaceInfo("Discrete", (), 25),
            {},
            "methods[1]",
            "it maps Box observations (vectors or images) onto each other",
        ),  # fmt: skip
        (VEC4, SpaceInfo("Box", (2, 3)), {}, "methods[1]", "the target rank-2 arrays"),
        (VEC4, VEC6, {"map": [0, 1]}, "methods[1].map", "needs one entry per source input"),
        (VEC4, VEC6, {"map": [0, 1, 2, 9]}, "methods[1].map", "target coordinate 9 does not"),
        (IMG, SpaceInfo("Box", (1, 24, 24)), {"map": [0]}, "methods[1].map", "applies to vector"),
    ],
)
def test_check_compatible_rejects_impossible_adaptations(source, target, options, path, message):
    method = _method(options)
    with pytest.raises(FieldError) as err:
        method.check_compatible(
            CheckpointInfo("ppo", source, D2, 0), CheckpointInfo("ppo", target, D2, 0), "methods[1]"
        )
    assert err.value.path == path and message in err.value.message, err.value


def test_check_compatible_allows_other_sizes_and_action_spaces():
    method = _method()
    for s, t in [(VEC4, VEC6), (IMG, SpaceInfo("Box", (1, 24, 24))), (D2, D2)]:
        method.check_compatible(
            CheckpointInfo("ppo", s, D2, 0),
            CheckpointInfo("ppo", t, SpaceInfo("Box", (3,)), 0),
            "methods[1]",
        )
    with pytest.raises(FieldError, match="adapt needs the same algorithm; the source is a2c"):
        method.check(
            CheckpointInfo("a2c", VEC4, D2, 0), CheckpointInfo("ppo", VEC6, D2, 0), "methods[1]"
        )
    with pytest.raises(FieldError, match=r"methods\[1\]\.map\[1\]: must be >= 0"):
        _method({"map": [0, -1]})


def test_a_vector_source_for_an_image_target_exits_2(tiny_study, write_study, tmp_path, capsys):
    tiny_study["target"]["env"] = {"id": PIXELS, "kwargs": {"size": 16, "max_steps": 12}}
    tiny_study["methods"] = ["scratch", "adapt"]
    code = main(["run", str(write_study(tiny_study)), "--out", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "methods[1]: adapt cannot map the target's observations onto the source's" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


# --- studies -------------------------------------------------------------------------------


def _meta(root: Path, method: str = "adapt") -> dict[str, Any]:
    return json.loads((root / "target" / method / "seed_0" / "meta.json").read_text())


def _run(study: dict[str, Any], path: Path, out: Path, capsys) -> Path:
    path.write_text(yaml.safe_dump(study))
    code = main(["run", str(path), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    (root,) = [p for p in out.iterdir() if p.is_dir()]
    return root


def test_study_cartpole_to_acrobot_with_vecnormalize(tiny_study, tmp_path, capsys):
    """4 → 6 observations, Discrete(2) → Discrete(3), VecNormalize statistics of another shape;
    the saved adapted model reloads and acts."""
    tiny_study.update(
        seeds=[0],
        methods=["adapt"],
        eval={"every": 128, "episodes": 2},
        threshold=-10.0,
        score_range={"low": -50.0, "high": 0.0},
    )
    tiny_study["hyperparams"]["normalize"] = True
    short = [{"entry": "TimeLimit", "kwargs": {"max_episode_steps": 50}}]
    tiny_study["target"] = {
        "env": {"id": "rltransfer/Acrobot-v0", "wrappers": short},
        "timesteps": 256,
    }
    root = _run(tiny_study, tmp_path / "study.yaml", tmp_path / "runs", capsys)
    transfer = _meta(root)["transfer"]
    assert transfer["normalization"]["vecnormalize"] == (
        "re-estimated on the target (source statistics have shape (4,))"
    )
    assert transfer["adapters"][0].startswith("features_extractor.adapter: before the encoder: ")
    assert transfer["skipped"]["action_net.weight"].startswith(ACTION_DIFFERS)
    assert "mlp_extractor.policy_net.0.weight" in transfer["loaded"]
    model = PPO.load(root / "target" / "adapt" / "seed_0" / "model.zip", device="cpu")
    assert model.policy.features_extractor.adapter.in_shape == (6,)
    action, _ = model.predict(np.zeros(6, np.float32), deterministic=True)
    assert model.action_space.contains(action)


def test_study_on_pixels_of_another_size_and_channel_count(tiny_study, tmp_path, capsys):
    """32×32 RGB source → 24×24 gray target with tiny_cnn: the encoder loads behind a resize and a
    1 → 3 channel convolution; the saved model reloads with the same adapter and predicts."""
    tiny_study.update(
        seeds=[0],
        methods=["adapt"],
        hyperparams={"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1},
        policy={"encoder": "tiny_cnn", "net_arch": [8]},
        eval={"every": 32, "episodes": 2},
        threshold=0.5,
        score_range={"low": -1.0, "high": 1.0},
    )
    env = {"id": PIXELS, "kwargs": {"size": 32, "grid": 4, "max_steps": 12}}
    tiny_study["source"] = {"env": env, "timesteps": 64}
    target = {**env, "kwargs": {**env["kwargs"], "size": 24}, "wrappers": ["GrayscalePixels"]}
    tiny_study["target"] = {"env": target, "timesteps": 64}
    root = _run(tiny_study, tmp_path / "study.yaml", tmp_path / "runs", capsys)
    transfer = _meta(root)["transfer"]
    stem = "features_extractor.reader.encoder.trunk.stem.0.weight"
    assert stem in transfer["loaded"] and not transfer["skipped"]
    assert transfer["adapter"] == {"in_shape": [1, 24, 24], "out_shape": [3, 32, 32]}
    assert transfer["adapters"] == [
        "features_extractor.adapter: before the encoder: resize 24×24 → 32×32 (bilinear, "
        "antialiased when shrinking; no parameters); learned 1×1 convolution 1 → 3 channels, "
        "initially copying the channel into each; bias 0"
    ]
    path = root / "target" / "adapt" / "seed_0" / "model.zip"
    model = PPO.load(path, device="cpu")
    extractor = model.policy.features_extractor
    assert extractor.encoder.in_shape == (3, 32, 32) and extractor.adapter.size == (32, 32)
    assert model.observation_space.shape == (1, 24, 24)
    frame = np.zeros((1, 24, 24), np.uint8)
    action, _ = model.predict(frame, deterministic=True)
    assert model.action_space.contains(action)
