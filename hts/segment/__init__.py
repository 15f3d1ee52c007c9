"""From image to spheroid mask: preprocessing and the classical baseline segmenter."""

from hts.segment.classical import ClassicalConfig, otsu_threshold, segment_classical
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

__all__ = [
    "ClassicalConfig",
    "PreprocessConfig",
    "minmax_to_uint8",
    "otsu_threshold",
    "pad_to_multiple",
    "preprocess",
    "resize",
    "restore_mask",
    "restore_probability",
    "scaled_shape",
    "segment_classical",
    "to_gray",
    "unpad",
]
