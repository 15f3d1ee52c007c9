"""The spheroid's outer contour as compact text, kept per image for QC overlays."""

from __future__ import annotations

import cv2
import numpy as np

from hts.measure.morphometrics import find_largest

__all__ = ["decode_contour", "encode_contour", "outer_contour", "simplify_contour"]


def outer_contour(mask: np.ndarray, *, tolerance_px: float = 1.0) -> np.ndarray:
    """``(N, 2)`` int32 (x, y) vertices of the largest object's outer border (the object
    `find_largest` measures), simplified so no point of the border lies farther than
    ``tolerance_px`` from the polygon; empty if no object."""
    return simplify_contour(find_largest(mask).contour, tolerance_px=tolerance_px)


def simplify_contour(contour: np.ndarray | None, *, tolerance_px: float = 1.0) -> np.ndarray:
    """``(N, 2)`` int32 (x, y) polygon of an OpenCV contour (Douglas-Peucker within
    ``tolerance_px``); empty for None."""
    if contour is None:
        return np.zeros((0, 2), np.int32)
    return cv2.approxPolyDP(contour, tolerance_px, True).reshape(-1, 2).astype(np.int32)


def encode_contour(points: np.ndarray) -> str:
    """``(N, 2)`` (x, y) -> 'x,y x,y ...' (SVG polygon points)."""
    return " ".join(f"{int(x)},{int(y)}" for x, y in points)


def decode_contour(text: str) -> np.ndarray:
    """Inverse of :func:`encode_contour`: ``(N, 2)`` int32 (x, y)."""
    if not text:
        return np.zeros((0, 2), np.int32)
    return np.array([[int(v) for v in p.split(",")] for p in text.split()], np.int32)
