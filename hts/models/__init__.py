"""The segmentation network's definition and its weight files: shipped ones by name, or any path.

Below both `hts.engines` (which run a weight file) and `hts.segment` (which turns an
engine's output into a mask); torch is imported only when a network is built or loaded.
"""

from hts.models.paths import DEFAULT_MODEL, DEFAULT_SEGMENTER, model_path, weights_model_id
from hts.models.unet import ModelConfig, build_model, load_weights, save_weights

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SEGMENTER",
    "ModelConfig",
    "build_model",
    "load_weights",
    "model_path",
    "save_weights",
    "weights_model_id",
]
