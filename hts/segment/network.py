"""A segmenter built from a neural network engine: the paper's pre- and post-processing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hts.engines.base import Engine, get_engine
from hts.segment.preprocess import PreprocessConfig, preprocess, restore_probability

__all__ = ["NetworkSegmenter"]


@dataclass
class NetworkSegmenter:
    """Preprocess (min-max, half resolution, pad to 32), run the engine, map back."""

    engine: Engine
    model_id: str
    config: PreprocessConfig = field(default_factory=PreprocessConfig)

    @classmethod
    def load(cls, weights: Path, *, engine: str = "torch") -> NetworkSegmenter:
        loaded = get_engine(engine, weights)
        return cls(loaded, str(getattr(loaded, "model_id", Path(weights).stem)))

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Probabilities ``(Y, X)`` float32 per image; images of one shape share one engine call."""
        if len({im.shape for im in images}) > 1:
            return [p for im in images for p in self.predict_batch([im])]
        probs = self.engine.predict(np.stack([preprocess(im, self.config) for im in images]))
        return [
            restore_probability(p, original_shape=im.shape, config=self.config)
            for p, im in zip(probs, images, strict=True)
        ]
