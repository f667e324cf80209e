"""The shared vision transfer core: encoders, weights, layer groups, features, the SB3 adapter,
the frozen-feature cache, self-supervised pretraining and supervised probes.

Quick use::

    from rltransfer.vision import create_encoder, FeatureReader
    enc = create_encoder("resnet18", env.observation_space, weights="none")
    feats = FeatureReader(enc, taps=["stage3", "stage4"], norm="l2")(images)  # (B, 256 + 512)
"""

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
from rltransfer.vision.weights import Weights, WeightsError, load_weights, save_weights

__all__ = [
    "ENCODERS",
    "Encoder",
    "EncoderEntry",
    "FeatureNorm",
    "FeatureReader",
    "FeatureVecEnv",
    "Preprocess",
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
    "resolve_groups",
    "resolve_setup",
    "save_weights",
    "tap_names",
    "wrap_like",
]
