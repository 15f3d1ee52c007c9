"""A segmenter built from a neural network engine: the paper's pre- and post-processing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hts.engines.base import Engine, get_engine
from hts.segment.preprocess import PreprocessConfig, preprocess, restore_probability

__all__ = ["FLIPS", "SCALE_MARK", "TTA_SUFFIX", "NetworkSegmenter", "mode_suffix"]

#: Appended to a model id (and accepted after a segmenter name) for flip-averaged results.
TTA_SUFFIX = "+tta"
#: Marks a network input scale other than the paper's in a model id or segmenter name
#: (``unet@0.6``: the image resized to 0.6 of its size instead of half).
SCALE_MARK = "@"


def mode_suffix(*, scale: float | None, flip_average: bool) -> str:
    """What a model id gets for a non-default input scale (None: the default) and for flip
    averaging, in that order: ``""``, ``"@0.6"``, ``"+tta"`` or ``"@0.6+tta"``."""
    marked = scale is not None and scale != PreprocessConfig().scale
    return (f"{SCALE_MARK}{scale:g}" if marked else "") + (TTA_SUFFIX if flip_average else "")


def _vertical(x: np.ndarray) -> np.ndarray:
    return x[:, ::-1]


def _horizontal(x: np.ndarray) -> np.ndarray:
    return x[:, :, ::-1]


def _rotate180(x: np.ndarray) -> np.ndarray:
    return x[:, ::-1, ::-1]


#: The paper's training transforms, on ``(B, Y, X)`` batches; each is its own inverse.
FLIPS = (_vertical, _horizontal, _rotate180)


@dataclass
class NetworkSegmenter:
    """Preprocess (min-max, half resolution, pad to 32), run the engine, map back.

    With ``flip_average`` (test-time augmentation) the network also sees the input flipped
    vertically, horizontally and rotated by 180 degrees (the paper's training transforms),
    and the four probability maps, flipped back, are averaged: four engine calls per batch
    for a lower error on debris images (docs/model-card.md). ``config.scale`` other than the
    paper's 0.5 runs the network on a larger (or smaller) input: small remnants get more
    pixels. The ``model_id`` records both (``unet-r34-v4@0.6+tta``), so results of
    different modes never mix in one store.
    """

    engine: Engine
    model_id: str
    config: PreprocessConfig = field(default_factory=PreprocessConfig)
    flip_average: bool = False

    @classmethod
    def load(
        cls,
        weights: Path,
        *,
        engine: str = "torch",
        flip_average: bool = False,
        scale: float | None = None,
    ) -> NetworkSegmenter:
        config = PreprocessConfig() if scale is None else PreprocessConfig(scale=scale)
        loaded = get_engine(engine, weights)
        model_id = str(getattr(loaded, "model_id", Path(weights).stem))
        model_id += mode_suffix(scale=config.scale, flip_average=flip_average)
        return cls(loaded, model_id, config=config, flip_average=flip_average)

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Probabilities ``(Y, X)`` float32 per image; images of one shape share one engine call."""
        if len({im.shape for im in images}) > 1:
            return [p for im in images for p in self.predict_batch([im])]
        batch = np.stack([preprocess(im, self.config) for im in images])
        probs = np.asarray(self.engine.predict(batch), dtype=np.float32)
        if self.flip_average:
            probs = probs.copy()  # summed into below; an engine may hand out its own buffer
            for flip in FLIPS:
                probs += flip(self.engine.predict(np.ascontiguousarray(flip(batch))))
            probs /= np.float32(1 + len(FLIPS))
        return [
            restore_probability(p, original_shape=im.shape, config=self.config)
            for p, im in zip(probs, images, strict=True)
        ]
