"""Placing rendered bodies in the field of view: whole, inside bounds, and touching each other.

A group is one or more :class:`~hts.heldout.spheroid.Body` objects with integer offsets of
their centres from the group origin (the first body's centre). Placement draws an origin
such that every body's mask lies inside the image, optionally near a given point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hts.heldout.fields import Window
from hts.heldout.spheroid import Body

__all__ = ["group_box", "place_group", "touching_offset"]


def group_box(
    bodies: Sequence[Body], offsets: Sequence[tuple[int, int]]
) -> tuple[float, float, float, float]:
    """Bounding box ``(y0, x0, y1, x1)`` of the group's masks relative to its origin, pixels."""
    boxes = []
    for body, (oy, ox) in zip(bodies, offsets, strict=True):
        ys, xs = np.nonzero(body.mask)
        if ys.size == 0:
            continue
        cy, cx = round(body.centre[0]), round(body.centre[1])
        boxes.append(
            (ys.min() - cy + oy, xs.min() - cx + ox, ys.max() - cy + oy + 1, xs.max() - cx + ox + 1)
        )
    if not boxes:
        return (0.0, 0.0, 1.0, 1.0)
    arr = np.asarray(boxes, np.float64)
    return (
        float(arr[:, 0].min()),
        float(arr[:, 1].min()),
        float(arr[:, 2].max()),
        float(arr[:, 3].max()),
    )


def place_group(
    bodies: Sequence[Body],
    offsets: Sequence[tuple[int, int]],
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    margin: float = 0.0,
    near: tuple[float, float] | None = None,
    within: float = math.inf,
    tries: int = 200,
) -> tuple[int, int]:
    """Draw an integer origin ``(y, x)`` that keeps the group inside the image.

    Parameters
    ----------
    bodies, offsets
        The group (see the module docstring).
    shape : (Y, X)
    rng : np.random.Generator
    margin : float
        Minimum distance of every mask pixel from the image border, pixels (reduced when the
        group would not fit otherwise).
    near : (y, x), optional
        Prefer origins within ``within`` pixels of this point.
    within : float
    tries : int
        Draws before giving up on ``within`` and taking the fitting origin nearest ``near``.

    Returns
    -------
    (y, x) int
    """
    y0, x0, y1, x1 = group_box(bodies, offsets)
    room_y = shape[0] - (y1 - y0)
    room_x = shape[1] - (x1 - x0)
    m = max(0.0, min(margin, room_y / 2 - 1, room_x / 2 - 1))
    lo = (-y0 + m, -x0 + m)
    hi = (shape[0] - y1 - m, shape[1] - x1 - m)
    if hi[0] < lo[0] or hi[1] < lo[1]:
        # Larger than the image: centre it (the caller chose too large a body).
        return (round((lo[0] + hi[0]) / 2), round((lo[1] + hi[1]) / 2))
    for _ in range(tries):
        oy = float(rng.uniform(lo[0], hi[0]))
        ox = float(rng.uniform(lo[1], hi[1]))
        if near is None or math.hypot(oy - near[0], ox - near[1]) <= within:
            return (round(oy), round(ox))
    # No draw came close enough: the fitting origin nearest to ``near``.
    assert near is not None
    return (round(min(max(near[0], lo[0]), hi[0])), round(min(max(near[1], lo[1]), hi[1])))


def touching_offset(
    a: Body, b: Body, rng: np.random.Generator, *, contact_px: float
) -> tuple[int, int]:
    """Offset ``(dy, dx)`` of ``b``'s centre from ``a``'s so that their masks just touch.

    ``b`` approaches ``a`` from a random direction until the masks share at least
    ``contact_px`` pixels (the two bodies press against each other a little).
    """
    phi = float(rng.uniform(0, 2 * math.pi))
    s, c = math.sin(phi), math.cos(phi)
    dist = a.extent_px + b.extent_px + 2.0
    step = max(1.0, dist / 300.0)
    while dist > 0:
        off = (round(dist * s), round(dist * c))
        top = (
            round(a.centre[0]) + off[0] - round(b.centre[0]),
            round(a.centre[1]) + off[1] - round(b.centre[1]),
        )
        win = Window(a.mask.shape, b.mask.shape, top)
        if not win.empty and int((a.mask[win.dst] & b.mask[win.src]).sum()) >= contact_px:
            return off
        dist -= step
    return (0, 0)
