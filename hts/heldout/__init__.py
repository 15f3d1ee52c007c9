"""Held-out synthetic brightfield images for evaluation only, never for training.

An image generator written independently of :mod:`hts.synth` (it imports nothing from it):
spheroids are masses of packed refractive cells with a dark core and a translucent, bumpy
border; satellites, loose cells and dead-cell debris have their own models; optics and
camera exports (16-bit, 8-bit, JPEG, RGB) are drawn per image. Its figures measure how well
a model trained on :mod:`hts.synth` generalises. Write a set with
``python -m hts.heldout OUT --per-category 20 --seed 0``.
"""

from hts.heldout.render import HeldoutImage, image_rng, render_heldout
from hts.heldout.scenes import CATEGORIES
from hts.heldout.writer import write_heldout_set

__all__ = ["CATEGORIES", "HeldoutImage", "image_rng", "render_heldout", "write_heldout_set"]
