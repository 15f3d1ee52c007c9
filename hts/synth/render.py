"""Render one brightfield spheroid image and its exact mask from a scene record (pure).

The image is built as transmitted light: ``offset + background * illumination *
exp(-optical_density)``, blurred by the optics (more when defocused), plus shot and read
noise. Spheroid bodies, debris, bubbles and the well wall each add optical density; only
the bodies enter the mask. Everything a scene record does not fix (cell texture, debris
grains, noise) is drawn from the generator passed in, so a (scene, seed) pair is one image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Body", "Bubble", "Debris", "Scene", "WellEdge", "outline_radius", "render_scene"]

# Harmonic tuples are (order k, relative amplitude, phase in radians).
Harmonics = tuple[tuple[int, float, float], ...]

_FINE_GRAIN_UM, _COARSE_GRAIN_UM = 2.5, 6.0
_LUT_SIZE = 4096  # outline samples; nearest lookup is within 0.1 px for R < 500 px


@dataclass(frozen=True)
class Body:
    """One spheroid body (or detached remnant); it is what the mask shows.

    Attributes
    ----------
    centre_yx : (float, float)
        Centre, pixels (row, column).
    radius_px : float
        Equivalent-circle radius: the outline encloses ``pi * radius_px**2`` pixels.
    harmonics : tuple of (int, float, float)
        Radial Fourier terms (order, relative amplitude, phase rad) of the outline.
    density : float
        Optical density (natural log of attenuation) of the core.
    rim : float
        Extra optical density of the darker rim.
    texture : float
        Relative amplitude of the interior texture.
    border : float
        Width of a translucent border of loosely packed cells, as a fraction of the
        radius; 0 draws the smooth body with a dark rim (the plate generator's look). With
        a border the body is a dense core inside a bumpy ring of individual refractive
        cells, lighter than the core, as real spheroids look; the mask holds core and
        border (bridged and filled), ``rim`` is unused.
    cell_um : float
        Diameter of one border cell, micrometres.
    border_density : float
        Optical density of one border cell at its rim.
    in_mask : bool
        False for a satellite aggregate beside the spheroid: drawn, never in the mask.
    loose : float
        Outer share of the border (0-1, by depth from the outline) whose sparse cells are a
        loose halo: drawn, but outside the mask, which follows the compact cell mass as an
        annotator draws it.
    fill : float
        Optical density, relative to ``density``, of a translucent layer of cells between
        the core and the compact outline (0: none).
    lens : float
        How strongly each border cell bends light towards its middle (0-1): 0 draws the
        cells darker than the well throughout; above about 0.45 their middle is brighter
        than the well, with a dark rim, so that a border of such cells is as light as the
        background or lighter (as loosely packed living cells often look in brightfield).
    """

    centre_yx: tuple[float, float]
    radius_px: float
    harmonics: Harmonics = ()
    density: float = 1.1
    rim: float = 0.6
    texture: float = 0.12
    border: float = 0.0
    cell_um: float = 12.0
    border_density: float = 0.5
    in_mask: bool = True
    loose: float = 0.0
    fill: float = 0.0
    lens: float = 0.0


@dataclass(frozen=True)
class Debris:
    """Cloud of dead-cell debris: grains, single dead cells, clumps and diffuse haze.

    Attributes
    ----------
    centre_yx : (float, float)
        Cloud centre, pixels.
    radius_px : float
        Cloud radius, pixels.
    harmonics : tuple of (int, float, float)
        Radial Fourier terms of the cloud outline.
    amount : float
        0 (none) to 1 (dense, darker than the spheroid in places).
    haze : float
        Optical density of the diffuse haze at ``amount == 1``.
    clumps : int
        Number of dense clumps.
    """

    centre_yx: tuple[float, float]
    radius_px: float
    harmonics: Harmonics = ()
    amount: float = 0.5
    haze: float = 0.5
    clumps: int = 4


@dataclass(frozen=True)
class Bubble:
    """Air bubble: dark thick ring around a bright centre. Centre and radius in pixels."""

    centre_yx: tuple[float, float]
    radius_px: float


@dataclass(frozen=True)
class WellEdge:
    """The well's circular wall; outside the circle (centre, radius in pixels) is dark."""

    centre_yx: tuple[float, float]
    radius_px: float


@dataclass(frozen=True)
class Scene:
    """Everything that defines one synthetic brightfield image.

    Attributes
    ----------
    shape : (int, int)
        Image shape (Y, X), pixels.
    pixel_size_um : float
        Micrometres per pixel; sets the size of cells and debris grains in pixels.
    bodies : tuple of Body
        Spheroid bodies; the mask is their union.
    debris : tuple of Debris
        Debris clouds, e.g. a wide cloud and a dense corona hugging the body.
    background_adu : float
        Transmitted-light level above the offset at the optical centre, ADU.
    offset_adu : float
        Camera offset (dark level), ADU.
    vignetting : float
        Fractional light fall-off at the image corners.
    gradient_yx : (float, float)
        Fractional change of the light level across the image along Y and X.
    defocus_px : float
        Gaussian sigma of defocus blur, pixels; 0 when in focus.
    bubble : Bubble or None
    well_edge : WellEdge or None
    photons_per_adu : float
        Camera conversion gain, photo-electrons per ADU (sets shot noise).
    read_noise_adu : float
        Gaussian read noise, ADU.
    stray_cells : int
        Isolated dead cells scattered over the whole field.
    """

    shape: tuple[int, int]
    pixel_size_um: float
    bodies: tuple[Body, ...]
    debris: tuple[Debris, ...] = ()
    background_adu: float = 6500.0
    offset_adu: float = 1000.0
    vignetting: float = 0.12
    gradient_yx: tuple[float, float] = (0.0, 0.0)
    defocus_px: float = 0.0
    bubble: Bubble | None = None
    well_edge: WellEdge | None = None
    photons_per_adu: float = 1.0
    read_noise_adu: float = 8.0
    stray_cells: int = 20


def outline_radius(theta: np.ndarray, radius_px: float, harmonics: Harmonics) -> np.ndarray:
    """Outline radius R(theta) in pixels whose enclosed area is ``pi * radius_px**2``.

    Parameters
    ----------
    theta : ndarray of float
        Angles, radians.
    radius_px : float
        Equivalent-circle radius, pixels.
    harmonics : tuple of (int, float, float)
        (order, relative amplitude, phase) terms.

    Returns
    -------
    ndarray of float64, shaped like ``theta``
    """
    theta = np.asarray(theta, dtype=np.float64)
    shape = np.ones_like(theta)
    power = 0.0
    for order, amplitude, phase in harmonics:
        shape += amplitude * np.cos(order * theta + phase)
        power += amplitude**2
    # Area = 1/2 * integral of R^2 = pi R0^2 (1 + sum a_k^2 / 2): rescale R0 to keep it.
    return radius_px / math.sqrt(1.0 + power / 2.0) * shape


def _max_extent(radius_px: float, harmonics: Harmonics) -> float:
    return radius_px * (1.0 + sum(abs(a) for _, a, _ in harmonics)) + 2.0


def _crop(shape: tuple[int, int], centre_yx: tuple[float, float], half: float):
    """Slices of the image box of half-size ``half`` around a centre, clipped to the image."""
    cy, cx = centre_yx
    y0, y1 = max(0, math.floor(cy - half)), min(shape[0], math.ceil(cy + half) + 1)
    x0, x1 = max(0, math.floor(cx - half)), min(shape[1], math.ceil(cx + half) + 1)
    if y0 >= y1 or x0 >= x1:
        return None
    return slice(y0, y1), slice(x0, x1)


def _polar(sl: tuple[slice, slice], centre_yx: tuple[float, float]):
    """(r, theta) float32 of the pixels of a crop relative to a centre."""
    ys = np.arange(sl[0].start, sl[0].stop, dtype=np.float32) - np.float32(centre_yx[0])
    xs = np.arange(sl[1].start, sl[1].stop, dtype=np.float32) - np.float32(centre_yx[1])
    dy, dx = ys[:, None], xs[None, :]
    return np.sqrt(dy * dy + dx * dx), np.arctan2(dy, dx)


def _radius_at(theta: np.ndarray, radius_px: float, harmonics: Harmonics) -> np.ndarray:
    """R(theta) for many angles through a lookup table (float32)."""
    step = 2.0 * np.pi / _LUT_SIZE
    lut = outline_radius(np.arange(_LUT_SIZE + 1) * step - np.pi, radius_px, harmonics)
    index = np.rint((theta + np.float32(np.pi)) * np.float32(1.0 / step)).astype(np.intp)
    return lut.astype(np.float32)[index]


def _smooth_noise(shape: tuple[int, int], scale_px: float, rng: np.random.Generator):
    """(Y, X) float32 noise of roughly unit std with features of ``scale_px`` pixels."""
    gy = max(2, int(shape[0] / max(scale_px, 1.0)) + 2)
    gx = max(2, int(shape[1] / max(scale_px, 1.0)) + 2)
    grid = rng.standard_normal((gy, gx), dtype=np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _illumination(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """(Y, X) float32 relative light level: vignetting, gradient and faint mottle."""
    h, w = scene.shape
    gh, gw = 33, 41
    y = np.linspace(-1.0, 1.0, gh, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, gw, dtype=np.float32)[None, :]
    oy, ox = rng.uniform(-0.25, 0.25, size=2)
    r2 = ((y - oy) ** 2 + (x - ox) ** 2) / 2.0
    light = (
        1.0 - scene.vignetting * r2 + 0.5 * (scene.gradient_yx[0] * y + scene.gradient_yx[1] * x)
    )
    light += 0.01 * rng.standard_normal((gh, gw), dtype=np.float32)
    light = cv2.resize(light.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(light, 0.2, 1.5)


def _cell_template(radius_px: float, lens: float = 0.0) -> np.ndarray:
    """(k, k) float32 optical density of one refractive cell of unit strength.

    Darker towards its rim, lighter in the middle, with a faint bright ring just outside
    (light bent by the cell), as cells look in brightfield; ``lens`` (`Body.lens`) lowers
    the middle, below zero (brighter than the well) from about 0.45.
    """
    half = math.ceil(1.4 * radius_px) + 1
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    rho = np.sqrt(yy * yy + xx * xx) / np.float32(radius_px)
    inside = np.clip((1.0 - rho) * radius_px + 0.5, 0.0, 1.0)  # soft edge, about 1 px
    body = inside * ((0.45 - lens) + (0.55 + lens) * np.minimum(rho, 1.0) ** 3)
    ring = 0.18 * np.exp(-(((rho - 1.15) / 0.12) ** 2)) * (rho > 1.0)
    return (body - ring).astype(np.float32)


def _add_cellular_body(od: np.ndarray, mask: np.ndarray, body: Body, um: float, rng) -> None:
    """A dense core inside a bumpy, translucent ring of individual cells (see `Body.border`)."""
    cell_r = max(1.2, body.cell_um / 2.0 / um)
    sl = _crop(od.shape, body.centre_yx, _max_extent(body.radius_px, body.harmonics) + 3 * cell_r)
    if sl is None:
        return
    r, theta = _polar(sl, body.centre_yx)
    big_r = _radius_at(theta, body.radius_px, body.harmonics)
    inner_r = big_r * np.float32(1.0 - body.border)
    inside_core = inner_r - r
    crop_shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
    texture = 0.6 * _smooth_noise(crop_shape, max(2.0, body.radius_px / 3.0), rng)
    texture += 0.8 * _smooth_noise(crop_shape, cell_r * 2.0, rng)
    rho = np.clip(r / np.maximum(inner_r, 1e-3), 0.0, 1.0)
    core = body.density * (0.75 + 0.25 * np.sqrt(1.0 - rho * rho)) * (1.0 + body.texture * texture)
    # the core fades into the border over a few cells, not at a sharp step
    fade = np.clip(inside_core / (2.0 * cell_r) + 0.5, 0.0, 1.0)
    od[sl] += core * fade
    local = (inside_core >= 0).astype(np.uint8)
    if body.fill > 0:
        # a translucent layer of cells out to the compact outline, with a bumpy edge
        edge = big_r * np.float32(1.0 - body.border * body.loose)
        edge = edge + np.float32(cell_r) * _smooth_noise(crop_shape, cell_r * 1.5, rng)
        band = np.clip((edge - r) / np.float32(cell_r) + 0.5, 0.0, 1.0) * (1.0 - fade)
        grain = 1.0 + 0.35 * _smooth_noise(crop_shape, cell_r * 0.8, rng)
        od[sl] += np.float32(body.fill * body.density) * band * np.clip(grain, 0.3, None)
        local |= (band >= 0.5).astype(np.uint8)

    # Border cells: drawn in the ring between the core and the outline, packed densely
    # near the core and loosely at the outline; a few sit just beyond it (bumps).
    ring_area = math.pi * body.radius_px**2 * (1.0 - (1.0 - body.border) ** 2)
    n = int(rng.poisson(max(1.0, 1.6 * ring_area / (math.pi * cell_r**2))))
    angle = rng.uniform(-np.pi, np.pi, n)
    outer = _radius_at(angle.astype(np.float32), body.radius_px, body.harmonics).astype(float)
    depth = rng.beta(1.8, 1.0, n)  # 0 at the outline, 1 at the core: packed towards it
    radial = outer * (1.0 - body.border * depth) + cell_r * rng.normal(0.0, 0.4, n)
    cy = body.centre_yx[0] + radial * np.sin(angle) - sl[0].start
    cx = body.centre_yx[1] + radial * np.cos(angle) - sl[1].start
    sizes = cell_r * rng.uniform(0.7, 1.3, n)
    strength = body.border_density * rng.uniform(0.5, 1.3, n) * (0.6 + 0.6 * depth)
    points = np.zeros(crop_shape, np.float32)
    iy, ix = np.rint(cy).astype(np.int64), np.rint(cx).astype(np.int64)
    ok = (iy >= 0) & (iy < crop_shape[0]) & (ix >= 0) & (ix < crop_shape[1])
    for lo, hi in ((0.0, 0.9), (0.9, 1.1), (1.1, 9.0)):  # three size classes, one blur each
        pick = ok & (sizes >= lo * cell_r) & (sizes < hi * cell_r)
        if not pick.any():
            continue
        layer = np.zeros(crop_shape, np.float32)
        np.add.at(layer, (iy[pick], ix[pick]), strength[pick].astype(np.float32))
        radius = float(np.mean(sizes[pick]))
        points += cv2.filter2D(
            layer, -1, _cell_template(radius, body.lens), borderType=cv2.BORDER_CONSTANT
        )
        compact = pick & (depth >= body.loose)
        for y, x, size in zip(iy[compact], ix[compact], sizes[compact], strict=True):
            cv2.circle(local, (int(x), int(y)), max(1, round(float(size))), 1, thickness=-1)
    od[sl] += points
    if body.in_mask:
        # the annotated spheroid: the cell mass with its attached border, gaps between
        # touching cells bridged and holes filled
        k = max(3, 2 * round(cell_r) + 1)
        local = cv2.morphologyEx(local, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
        contours, _ = cv2.findContours(local, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if contours:
            biggest = max(contours, key=cv2.contourArea)
            filled = np.zeros_like(local)
            cv2.drawContours(filled, [biggest], 0, 1, thickness=cv2.FILLED)
            mask[sl] |= filled > 0


def _add_body(od: np.ndarray, mask: np.ndarray, body: Body, um: float, rng) -> None:
    """Add one body's optical density and its mask, in place. ``um`` is the pixel size."""
    if body.border > 0:
        _add_cellular_body(od, mask, body, um, rng)
        return
    sl = _crop(od.shape, body.centre_yx, _max_extent(body.radius_px, body.harmonics) + 8.0)
    if sl is None:
        return
    r, theta = _polar(sl, body.centre_yx)
    big_r = _radius_at(theta, body.radius_px, body.harmonics)
    inside = big_r - r  # radial distance inside the outline, pixels
    if body.in_mask:
        mask[sl] |= inside >= 0
    rho = np.clip(r / np.maximum(big_r, 1e-3), 0.0, 1.0)
    crop_shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
    cell_px = max(1.0, 10.0 / um)
    texture = 0.6 * _smooth_noise(crop_shape, max(2.0, body.radius_px / 3.0), rng)
    texture += 0.8 * _smooth_noise(crop_shape, cell_px, rng)
    core = body.density * (0.7 + 0.3 * np.sqrt(1.0 - rho * rho)) * (1.0 + body.texture * texture)
    rim_px = max(1.5, 0.07 * body.radius_px, 6.0 / um)
    rim = body.rim * np.exp(-((np.maximum(inside, 0.0) / rim_px) ** 2))
    edge = np.clip(inside / 1.2 + 0.5, 0.0, 1.0)  # sub-pixel soft edge centred on the outline
    halo = 0.12 * np.exp(-(((inside + 2.0) / max(1.5, 3.0 / um)) ** 2)) * (inside < 0)
    od[sl] += (core + rim) * edge - halo


class _Points:
    """Point sources in image coordinates, gathered so each kind is blurred only once."""

    def __init__(self) -> None:
        self._ys: list[np.ndarray] = []
        self._xs: list[np.ndarray] = []
        self._ws: list[np.ndarray] = []

    def add(self, ys: np.ndarray, xs: np.ndarray, weights: np.ndarray) -> None:
        self._ys.append(np.asarray(ys, dtype=np.float64))
        self._xs.append(np.asarray(xs, dtype=np.float64))
        self._ws.append(np.asarray(weights, dtype=np.float64))

    def splat(self, shape: tuple[int, int], pad: int):
        """(crop slices, float32 point image) over the points' bounding box; None if empty."""
        if not self._ys:
            return None
        iy = np.rint(np.concatenate(self._ys)).astype(np.int64)
        ix = np.rint(np.concatenate(self._xs)).astype(np.int64)
        w = np.concatenate(self._ws)
        keep = (iy >= 0) & (iy < shape[0]) & (ix >= 0) & (ix < shape[1])
        if not keep.any():
            return None
        iy, ix, w = iy[keep], ix[keep], w[keep]
        y0, y1 = max(0, int(iy.min()) - pad), min(shape[0], int(iy.max()) + pad + 1)
        x0, x1 = max(0, int(ix.min()) - pad), min(shape[1], int(ix.max()) + pad + 1)
        h, wd = y1 - y0, x1 - x0
        flat = np.bincount((iy - y0) * wd + (ix - x0), weights=w, minlength=h * wd)
        return (slice(y0, y1), slice(x0, x1)), flat.reshape(h, wd).astype(np.float32)


def _blobs(points: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blobs of peak 1 x weight at each point of a point image."""
    return cv2.GaussianBlur(points, (0, 0), sigma_px) * np.float32(2.0 * np.pi * sigma_px**2)


def _add_grains(od: np.ndarray, grains: _Points, size_um: float, um: float) -> None:
    """Debris grains of about ``size_um`` micrometres: small dark Gaussian dots."""
    sigma = max(0.6, size_um / 2.0 / um)
    splat = grains.splat(od.shape, pad=math.ceil(4 * sigma))
    if splat is not None:
        od[splat[0]] += _blobs(splat[1], sigma)


def _add_cells(od: np.ndarray, cells: _Points, um: float) -> None:
    """Dead cells: dark rings with a lighter centre (difference of Gaussians)."""
    sigma = max(1.0, 4.0 / um)
    splat = cells.splat(od.shape, pad=math.ceil(4 * sigma))
    if splat is not None:
        od[splat[0]] += _blobs(splat[1], sigma) - 0.6 * _blobs(splat[1], 0.5 * sigma)


def _add_debris(
    od: np.ndarray,
    debris: Debris,
    rng: np.random.Generator,
    *,
    um: float,
    grains: tuple[_Points, _Points],
    cells: _Points,
) -> None:
    """Add one cloud's haze to ``od`` and its grains and dead cells to the point lists."""
    if debris.amount <= 0:
        return
    rc = debris.radius_px
    cy, cx = debris.centre_yx
    amount = debris.amount
    area_um2 = np.pi * (rc * um) ** 2

    def scatter(n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
        theta = rng.uniform(-np.pi, np.pi, n)
        edge = _radius_at(theta, rc, debris.harmonics)
        radius = edge * np.sqrt(rng.uniform(0.0, 1.0, n)) + spread * rc * rng.standard_normal(n)
        return cy + radius * np.sin(theta), cx + radius * np.cos(theta)

    # Haze: smooth, patchy, fading out at the cloud's irregular edge.
    sl = _crop(od.shape, debris.centre_yx, _max_extent(rc, debris.harmonics) * 1.35 + 10.0)
    if sl is not None:
        crop_shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        r, theta = _polar(sl, debris.centre_yx)
        rho = r / np.maximum(_radius_at(theta, rc, debris.harmonics), 1e-3)
        envelope = 1.0 / (1.0 + np.exp(np.minimum((rho - 0.9) / 0.12, 30.0)))
        noise = _smooth_noise(crop_shape, max(4.0, rc / 4.0), rng)
        od[sl] += (amount * debris.haze) * envelope * np.clip(0.7 + 0.35 * noise, 0.0, None)

    # Fine and coarse grains (cell fragments) and dead cells (about 10 micrometres).
    for points, density in zip(grains, (0.016, 0.006), strict=True):
        n_grains = int(rng.poisson(amount * area_um2 * density))
        points.add(*scatter(n_grains, 0.15), rng.uniform(0.1, 0.6, n_grains))
    n_cells = int(rng.poisson(amount * area_um2 * 0.0015))
    cells.add(*scatter(n_cells, 0.2), rng.uniform(0.3, 0.9, n_cells))
    # Clumps: tight clusters of dead cells, locally darker than the spheroid.
    for _ in range(debris.clumps):
        (qy,), (qx,) = scatter(1, 0.05)
        size = rng.uniform(8.0, 30.0) / um
        n = int(rng.integers(15, 60))
        cells.add(
            qy + size * rng.standard_normal(n),
            qx + size * rng.standard_normal(n),
            rng.uniform(0.5, 1.0, n),
        )


def _add_well_edge(od: np.ndarray, edge: WellEdge, um: float) -> None:
    """Dark wall outside the well circle, with a darker line and a bright meniscus rim."""
    h, w = od.shape
    ys = np.arange(h, dtype=np.float32)[:, None] - np.float32(edge.centre_yx[0])
    xs = np.arange(w, dtype=np.float32)[None, :] - np.float32(edge.centre_yx[1])
    d = np.sqrt(ys * ys + xs * xs) - np.float32(edge.radius_px)  # > 0 outside the well
    if float(d.max()) < -200.0 / um:
        return
    line_px = max(2.0, 12.0 / um)
    wall = 0.45 * (1.0 + np.tanh(d / (2.0 * line_px)))  # logistic step without overflow
    line = 1.1 * np.exp(-((d / line_px) ** 2))
    meniscus = 0.35 * np.exp(np.minimum(d, 0.0) / (150.0 / um))  # light dims near the wall
    rim = 0.25 * np.exp(-(((d + 3.0 * line_px) / line_px) ** 2))
    od += wall + line + meniscus - rim


def _add_bubble(od: np.ndarray, bubble: Bubble) -> None:
    """Bubble: dark thick ring, bright centre."""
    rb = bubble.radius_px
    sl = _crop(od.shape, bubble.centre_yx, rb * 1.3 + 4.0)
    if sl is None:
        return
    r, _ = _polar(sl, bubble.centre_yx)
    ring = 1.4 * np.exp(-(((r - 0.88 * rb) / max(1.5, 0.09 * rb)) ** 2))
    centre = 0.12 / (1.0 + np.exp(np.minimum((r - 0.7 * rb) / max(1.0, 0.05 * rb), 30.0)))
    od[sl] += ring - centre


def render_scene(scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Render a scene to a brightfield image and its ground-truth mask.

    Parameters
    ----------
    scene : Scene
    rng : numpy.random.Generator
        Source of texture, debris grains and camera noise.

    Returns
    -------
    image : (Y, X) uint16
        Brightfield image in ADU.
    mask : (Y, X) bool
        True on spheroid bodies only (never on debris, bubbles or the wall).
    """
    h, w = scene.shape
    od = np.zeros((h, w), dtype=np.float32)
    mask = np.zeros((h, w), dtype=bool)
    for body in scene.bodies:
        _add_body(od, mask, body, scene.pixel_size_um, rng)
    um = scene.pixel_size_um
    grains, cells = (_Points(), _Points()), _Points()
    for cloud in scene.debris:
        _add_debris(od, cloud, rng, um=um, grains=grains, cells=cells)
    # A few isolated dead cells anywhere in the field.
    n = scene.stray_cells
    cells.add(rng.uniform(0, h, n), rng.uniform(0, w, n), rng.uniform(0.2, 0.7, n))
    _add_grains(od, grains[0], _FINE_GRAIN_UM, um)
    _add_grains(od, grains[1], _COARSE_GRAIN_UM, um)
    _add_cells(od, cells, um)
    if scene.well_edge is not None:
        _add_well_edge(od, scene.well_edge, scene.pixel_size_um)
    if scene.bubble is not None:
        _add_bubble(od, scene.bubble)
    light = _illumination(scene, rng)
    # The optics blur a little even in focus; defocus adds a wider Gaussian.
    sigma = math.hypot(0.6, scene.defocus_px)
    signal = cv2.GaussianBlur(np.float32(scene.background_adu) * light * np.exp(-od), (0, 0), sigma)
    variance = signal / np.float32(scene.photons_per_adu) + np.float32(scene.read_noise_adu**2)
    noisy = signal + np.sqrt(variance) * rng.standard_normal((h, w), dtype=np.float32)
    noisy += np.float32(scene.offset_adu)
    image = np.clip(np.rint(noisy), 0, 65535).astype(np.uint16)
    return image, mask
