"""Dead-cell debris: a cloud of granules and cell fragments around (and over) a spheroid.

Treated spheroids shed dying cells that break up into a halo of debris. The model has three
parts, each with its own statistics:

* granules: small (1-4 um) dense particles, mostly dark, a few refractile (bright), placed
  by a clustered point process (clumps of granules around parent points plus a scatter);
* fragments: pieces of dead cells 3-9 um across, either ghost cells (a bright membrane ring
  around a pale body) or dark, elongated clumps;
* haze: the unresolved part of the cloud, a smooth patchy optical density.

The cloud's density falls off with a stretched-exponential profile from an elliptical,
possibly off-centre core. None of it belongs to the reference mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hts.heldout.fields import smooth_noise
from hts.heldout.stamps import elliptic_radius, sample_kernel, stamp

__all__ = ["CloudSpec", "cloud_density", "random_cloud", "render_cloud"]

FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CloudSpec:
    """A debris cloud.

    Attributes
    ----------
    centre : (y, x)
        Cloud centre, pixels.
    radii : (ry, rx)
        Scale radii of the density profile, pixels.
    angle : float
        Rotation of the profile, radians.
    falloff : float
        Exponent of the profile ``exp(-r**falloff)``: 1 is a wide, soft halo, 4 a sharp cloud.
    granules_per_um2 : float
        Mean number of granules per square micrometre at the cloud's core.
    fragment_share : float
        Fragments per granule.
    clumping : float
        Share of granules that sit in clumps.
    haze : float
        Optical density of the unresolved haze at the core.
    granule_density : float
        Mean optical density of one granule at its centre.
    """

    centre: tuple[float, float]
    radii: tuple[float, float]
    angle: float
    falloff: float
    granules_per_um2: float
    fragment_share: float
    clumping: float
    haze: float
    granule_density: float


def random_cloud(
    rng: np.random.Generator,
    *,
    centre: tuple[float, float],
    spheroid_radius_px: float,
    dense: bool = False,
) -> CloudSpec:
    """Draw a debris cloud around a spheroid.

    Parameters
    ----------
    rng : np.random.Generator
    centre : (y, x)
        Spheroid centre, pixels; the cloud's core is offset from it by up to a third of the
        spheroid radius.
    spheroid_radius_px : float
    dense : bool
        A large, dark cloud that dwarfs the spheroid (a small remnant inside its debris).

    Returns
    -------
    CloudSpec
    """
    r = spheroid_radius_px
    scale = rng.uniform(3.0, 7.0) if dense else rng.uniform(1.15, 2.2)
    stretch = float(rng.uniform(1.0, 1.4))
    off = rng.normal(0, 0.3 * r, 2)
    return CloudSpec(
        centre=(centre[0] + float(off[0]), centre[1] + float(off[1])),
        radii=(r * scale * stretch, r * scale / stretch),
        angle=float(rng.uniform(0, math.pi)),
        falloff=float(rng.uniform(1.2, 3.0) if dense else rng.uniform(1.0, 2.5)),
        granules_per_um2=float(rng.uniform(0.01, 0.04) if dense else rng.uniform(0.004, 0.02)),
        fragment_share=float(rng.uniform(0.05, 0.25)),
        clumping=float(rng.uniform(0.2, 0.7)),
        haze=float(rng.uniform(0.6, 1.4) if dense else rng.uniform(0.12, 0.6)),
        granule_density=float(rng.uniform(0.15, 0.5)),
    )


def cloud_density(spec: CloudSpec, shape: tuple[int, int], rng: np.random.Generator) -> FloatImage:
    """Relative density of the cloud, 1 at its core, patchy, ``(Y, X)`` float32 in [0, 1.5]."""
    yy = np.arange(shape[0], dtype=np.float32)[:, None] - np.float32(spec.centre[0])
    xx = np.arange(shape[1], dtype=np.float32)[None, :] - np.float32(spec.centre[1])
    r = elliptic_radius(yy, xx, semi_axes=(spec.radii[1], spec.radii[0]), angle=spec.angle)
    profile = np.exp(-(r**spec.falloff))
    patch = smooth_noise(shape, rng, scale_px=0.35 * min(spec.radii))
    return np.asarray(np.clip(profile * np.exp(0.35 * patch - 0.06), 0.0, 1.5), np.float32)


def _granule_kernels(rng: np.random.Generator, um_per_px: float) -> list[FloatImage]:
    kernels = []
    for _ in range(6):
        sigma = max(float(rng.uniform(0.5, 1.6)) / um_per_px, 0.45)
        rim = float(rng.uniform(0.0, 0.5))

        def profile(dy: FloatImage, dx: FloatImage, s: float = sigma, k: float = rim) -> FloatImage:
            q = (dy * dy + dx * dx) / (s * s)
            return np.asarray(np.exp(-q) - k * np.exp(-((np.sqrt(q) - 1.8) ** 2)), np.float32)

        kernels.append(sample_kernel(profile, 3.5 * sigma + 1))
    return kernels


def _fragment_kernels(rng: np.random.Generator, um_per_px: float) -> list[FloatImage]:
    kernels = []
    for i in range(6):
        radius = max(float(rng.uniform(1.5, 4.5)) / um_per_px, 0.8)
        aspect = float(rng.uniform(0.3, 0.7) if i % 2 else rng.uniform(0.75, 1.0))
        angle = float(rng.uniform(0, math.pi))
        ghost = i % 2 == 0
        axes = (radius, radius * aspect)

        def profile(
            dy: FloatImage, dx: FloatImage, ax: tuple[float, float] = axes, a: float = angle,
            g: bool = ghost,
        ) -> FloatImage:  # fmt: skip
            r = elliptic_radius(dy, dx, semi_axes=ax, angle=a)
            if g:  # pale body, bright membrane ring, a dark dot of condensed chromatin
                return np.asarray(
                    0.25 * (r < 1)
                    - 0.9 * np.exp(-(((r - 1) / 0.18) ** 2))
                    + np.exp(-((r / 0.3) ** 2)),
                    np.float32,
                )
            return np.asarray(np.exp(-(r**2) * 1.5), np.float32)

        kernels.append(sample_kernel(profile, 1.6 * radius + 1))
    return kernels


def _points(
    rng: np.random.Generator, density: FloatImage, n: int, *, clumping: float, clump_px: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``n`` points drawn from a density image, a share of them in clumps."""
    flat = density.ravel().astype(np.float64)
    total = float(flat.sum())
    if n <= 0 or total <= 0:
        return np.zeros(0), np.zeros(0)
    n_clumped = int(n * clumping)
    n_parents = max(1, n_clumped // int(rng.integers(8, 30)))
    idx = rng.choice(flat.size, size=n - n_clumped + n_parents, p=flat / total)
    ys = idx // density.shape[1] + rng.random(idx.size)
    xs = idx % density.shape[1] + rng.random(idx.size)
    parent = rng.integers(0, n_parents, n_clumped)
    py, px = ys[-n_parents:][parent], xs[-n_parents:][parent]
    cy = py + rng.normal(0, clump_px, n_clumped)
    cx = px + rng.normal(0, clump_px, n_clumped)
    return np.concatenate([ys[: n - n_clumped], cy]), np.concatenate([xs[: n - n_clumped], cx])


def render_cloud(
    spec: CloudSpec, shape: tuple[int, int], rng: np.random.Generator, *, um_per_px: float
) -> FloatImage:
    """Optical density ``(Y, X)`` float32 of the debris cloud (granules, fragments, haze).

    Parameters
    ----------
    spec : CloudSpec
    shape : (Y, X)
    rng : np.random.Generator
    um_per_px : float
        Pixel size, micrometres: fixes the size of granules and fragments.
    """
    density = cloud_density(spec, shape, rng)
    area_um2 = float(density.sum()) * um_per_px * um_per_px
    n_gran = int(rng.poisson(min(spec.granules_per_um2 * area_um2, 4e5)))
    clump_px = float(rng.uniform(2.0, 8.0)) / um_per_px
    ys, xs = _points(rng, density, n_gran, clumping=spec.clumping, clump_px=clump_px)
    weights = spec.granule_density * rng.lognormal(0.0, 0.5, ys.size)
    weights = np.where(rng.random(ys.size) < 0.15, -0.6 * weights, weights)
    out = stamp(
        shape, ys, xs, weights, rng.integers(0, 6, ys.size), _granule_kernels(rng, um_per_px)
    )

    n_frag = int(rng.poisson(spec.fragment_share * n_gran))
    fy, fx = _points(rng, density, n_frag, clumping=0.2, clump_px=2.0 * clump_px)
    fw = rng.uniform(0.15, 0.4, fy.size)
    out += stamp(shape, fy, fx, fw, rng.integers(0, 6, fy.size), _fragment_kernels(rng, um_per_px))

    grain = 1.0 + 0.3 * smooth_noise(shape, rng, scale_px=max(6.0 / um_per_px, 1.5))
    out += spec.haze * density * grain
    return np.asarray(out, np.float32)
