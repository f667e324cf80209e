"""torchvision backbones as encoders, built with ``torchvision.models.get_model`` (random weights;
pretrained ones come only from the local torch hub cache, see ``weights.py``).

The classifier is removed and the last feature map is globally average-pooled, so the features
are the backbone's channels (512 for resnet18). Module names stay torchvision's under ``trunk.``
so torchvision state dicts load by name. ``out_dim`` adds a trainable ``head`` (linear + ReLU).
"""

from __future__ import annotations

from torch import nn

from rltransfer.vision.encoder import Encoder
from rltransfer.vision.registry import register_encoder


def _replace_first_conv(model: nn.Module, path: str, channels: int) -> None:
    """Swap the input convolution at ``path`` for one reading ``channels`` channels."""
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old: nn.Conv2d = getattr(parent, attr)
    new = nn.Conv2d(
        channels,
        old.out_channels,
        old.kernel_size,
        old.stride,
        old.padding,
        old.dilation,
        old.groups,
        old.bias is not None,
    )
    setattr(parent, attr, new)


def _resnet_groups(model: nn.Module) -> tuple[dict[str, list[str]], dict[str, str]]:
    groups = {"stem": ["trunk.conv1", "trunk.bn1"]}
    groups |= {f"stage{i}": [f"trunk.layer{i}"] for i in range(1, 5)}
    outputs = {"stem": "trunk.maxpool"} | {f"stage{i}": f"trunk.layer{i}" for i in range(1, 5)}
    return groups, outputs


def _split_features(model: nn.Module, cuts: list[list[int]]) -> tuple[dict, dict]:
    names = ["stem"] + [f"stage{i}" for i in range(1, len(cuts))]
    groups = {n: [f"trunk.features.{j}" for j in idx] for n, idx in zip(names, cuts, strict=True)}
    return groups, {n: paths[-1] for n, paths in groups.items()}


def _vgg_groups(model: nn.Module) -> tuple[dict, dict]:
    """One group per block of convolutions ending in a max-pool: stem, stage1..stage4."""
    cuts: list[list[int]] = [[]]
    for i, layer in enumerate(model.features):
        cuts[-1].append(i)
        if isinstance(layer, nn.MaxPool2d) and i != len(model.features) - 1:
            cuts.append([])
    # only groups holding parameters matter for training, but every block is a tap point
    return _split_features(model, cuts)


_FEATURE_CUTS = {
    "mobilenet_v3_small": [[0], [1], [2, 3], [4, 5, 6, 7, 8], [9, 10, 11, 12]],
    "efficientnet_b0": [[0], [1, 2], [3], [4, 5], [6, 7, 8]],
}

# model name → (features size, first conv path, classifier attribute, groups function)
_SPECS = {
    "resnet18": (512, "conv1", "fc", _resnet_groups),
    "resnet34": (512, "conv1", "fc", _resnet_groups),
    "resnet50": (2048, "conv1", "fc", _resnet_groups),
    "vgg11": (512, "features.0", "classifier", _vgg_groups),
    "vgg16": (512, "features.0", "classifier", _vgg_groups),
    "mobilenet_v3_small": (576, "features.0.0", "classifier", None),
    "efficientnet_b0": (1280, "features.0.0", "classifier", None),
}


def _builder(model_name: str):
    dim, first_conv, classifier, groups_fn = _SPECS[model_name]

    def build(in_shape: tuple[int, ...], out_dim: int | None = None) -> Encoder:
        """(B, C, H, W) → (B, features) with features = backbone channels or ``out_dim``."""
        from torchvision.models import get_model  # torchvision costs ~1 s to import: on use

        model = get_model(model_name, weights=None)
        setattr(model, classifier, nn.Identity())
        if hasattr(model, "avgpool"):
            model.avgpool = nn.AdaptiveAvgPool2d(1)  # vgg pools to 7×7; RL images are small
        if in_shape[0] != 3:
            _replace_first_conv(model, first_conv, in_shape[0])
        if groups_fn is not None:
            groups, outputs = groups_fn(model)
        else:
            groups, outputs = _split_features(model, _FEATURE_CUTS[model_name])
        head = None
        if out_dim is not None:
            head = nn.Sequential(nn.Linear(dim, int(out_dim)), nn.ReLU())
            groups["head"] = ["head"]
            outputs["head"] = "head"
        return Encoder(
            model_name,
            model,
            head,
            in_shape=in_shape,
            groups=groups,
            outputs=outputs,
            features_dim=int(out_dim) if out_dim is not None else dim,
            image=True,
            first_conv=f"trunk.{first_conv}",
            autocast=True,
            channels_last=True,
            kwargs={"out_dim": out_dim},
        )

    build.__name__ = model_name
    return build


for _name, (_dim, *_rest) in _SPECS.items():
    register_encoder(
        _name,
        kind="image",
        min_size=32,
        torchvision=_name,
        description=f"torchvision {_name}, classifier removed, global average pool ({_dim})",
    )(_builder(_name))
