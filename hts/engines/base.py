"""The engine interface: load once, then ``predict(batch) -> spheroid probabilities``.

Engines see the network's input exactly: ``(B, Y, X)`` uint8 batches already preprocessed
(min-max, half resolution, padded to 32). Heavy imports happen inside each engine; the
engines are found by name in `hts.engines.registry`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Engine", "check_batch", "onnx_input"]


class Engine(Protocol):
    """A loaded network that maps input batches to spheroid probabilities."""

    @property
    def name(self) -> str:
        """The engine as it runs, e.g. ``openvino-cpu-bf16``."""
        ...

    @property
    def model_id(self) -> str:
        """The id the weight file carries, e.g. ``unet-r34-v6``."""
        ...

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Spheroid probabilities of a batch.

        Parameters
        ----------
        batch : (B, Y, X) uint8
            Preprocessed network input; Y and X multiples of 32.

        Returns
        -------
        (B, Y, X) float32
            Probability of the spheroid class, in [0, 1].
        """
        ...


def check_batch(batch: np.ndarray) -> np.ndarray:
    """The batch as a C-contiguous ``(B, Y, X)`` uint8 array, or ``ValueError``."""
    array = np.asarray(batch)
    if array.ndim != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected a (B, Y, X) uint8 batch, got {array.shape} {array.dtype}")
    return np.ascontiguousarray(array)


def onnx_input(batch: np.ndarray) -> np.ndarray:
    """A checked ``(B, Y, X)`` uint8 batch as the ONNX export's input: ``(B, 1, Y, X)``
    float32 in [0, 1]."""
    return check_batch(batch)[:, None].astype(np.float32) / np.float32(255.0)
