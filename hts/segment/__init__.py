"""From image to spheroid probabilities and a measured spheroid: the segmenters (named,
parsed once into a `SegmenterSpec`), the paper's preprocessing, the network segmenter
around an inference engine, the classical baseline, and the post-processing that turns a
probability map into a measurement with QC flags."""

from hts.segment.classical import ClassicalConfig, otsu_threshold, segment_classical
from hts.segment.network import (
    FLIPS,
    NetworkSegmenter,
    PolarityRule,
    ZoomRule,
    mode_suffix,
)
from hts.segment.postprocess import (
    PROCESSING_VERSION,
    THRESHOLD,
    ImageAnalysis,
    analyse_probability,
)
from hts.segment.preprocess import (
    PreprocessConfig,
    minmax_to_uint8,
    pad_to_multiple,
    preprocess,
    resize,
    restore_mask,
    restore_probability,
    scaled_shape,
    to_gray,
    unpad,
)
from hts.segment.registry import (
    DEFAULT_SEGMENTER,
    PLUGIN_GROUP,
    ClassicalSegmenter,
    Segmenter,
    SegmenterSpec,
    as_spec,
    available_segmenters,
    get_segmenter,
    register_segmenter,
    segmenter_model_id,
)

__all__ = [
    "DEFAULT_SEGMENTER",
    "FLIPS",
    "PLUGIN_GROUP",
    "PROCESSING_VERSION",
    "THRESHOLD",
    "ClassicalConfig",
    "ClassicalSegmenter",
    "ImageAnalysis",
    "NetworkSegmenter",
    "PolarityRule",
    "PreprocessConfig",
    "Segmenter",
    "SegmenterSpec",
    "ZoomRule",
    "analyse_probability",
    "as_spec",
    "available_segmenters",
    "get_segmenter",
    "minmax_to_uint8",
    "mode_suffix",
    "otsu_threshold",
    "pad_to_multiple",
    "preprocess",
    "register_segmenter",
    "resize",
    "restore_mask",
    "restore_probability",
    "scaled_shape",
    "segment_classical",
    "segmenter_model_id",
    "to_gray",
    "unpad",
]
