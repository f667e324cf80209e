"""The shared vision transfer core, a library: encoders, weights, layer groups, features, the
SB3 adapter, its extractor stages and the frozen-feature cache. It imports nothing above it;
transfer methods and multi-task sources plug their stages into ``rltransfer.vision.stages``.
The applications built on it (pretraining, probes, ``rltransfer encoders``) are in
``rltransfer.tools``.

Importing the package registers the built-in encoders (``builtin.py``, ``backbones.py``) in the
registry (``registry.py``: the table and the decorator).

Quick use::

    from rltransfer.vision import create_encoder, FeatureReader
    enc = create_encoder("resnet18", env.observation_space, weights="none")
    feats = FeatureReader(enc, taps=["stage3", "stage4"], norm="l2")(images)  # (B, 256 + 512)
"""

import rltransfer.vision.backbones
import rltransfer.vision.builtin  # noqa: F401  (the built-in encoders register on import)
from rltransfer.vision.cache import FeatureVecEnv, find_feature_env, wrap_like
from rltransfer.vision.encoder import Encoder
from rltransfer.vision.features import FeatureNorm, FeatureReader, tap_names
from rltransfer.vision.groups import apply_groups, resolve_groups
from rltransfer.vision.plan import VisionSetup, prepare_env, resolve_setup
from rltransfer.vision.preprocess import Preprocess
from rltransfer.vision.registry import (
    ENCODERS,
    EncoderEntry,
    create_encoder,
    get_entry,
    list_encoders,
    register_encoder,
)
from rltransfer.vision.sb3 import VisionExtractor
from rltransfer.vision.stages import STAGES, StageEntry, register_stage
from rltransfer.vision.weights import Weights, WeightsError, load_weights, save_weights

__all__ = [
    "ENCODERS",
    "Encoder",
    "EncoderEntry",
    "FeatureNorm",
    "FeatureReader",
    "FeatureVecEnv",
    "Preprocess",
    "STAGES",
    "StageEntry",
    "VisionExtractor",
    "VisionSetup",
    "Weights",
    "WeightsError",
    "apply_groups",
    "create_encoder",
    "find_feature_env",
    "get_entry",
    "list_encoders",
    "load_weights",
    "prepare_env",
    "register_encoder",
    "register_stage",
    "resolve_groups",
    "resolve_setup",
    "save_weights",
    "tap_names",
    "wrap_like",
]
