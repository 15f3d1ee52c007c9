import numpy as np

from hts.heldout.stamps import elliptic_radius, sample_kernel, splat, stamp, stamp_footprints


def test_splat_keeps_the_total_weight_and_sub_pixel_position() -> None:
    out = splat((10, 10), [4.25], [5.5], [2.0])
    assert abs(float(out.sum()) - 2.0) < 1e-6
    ys, xs = np.nonzero(out)
    centre_y = float((out[ys, xs] * ys).sum() / out.sum())
    centre_x = float((out[ys, xs] * xs).sum() / out.sum())
    assert abs(centre_y - 4.25) < 1e-6 and abs(centre_x - 5.5) < 1e-6


def test_stamp_puts_an_upright_copy_of_the_kernel_at_each_point() -> None:
    kernel = np.zeros((5, 5), np.float32)
    kernel[0, 2] = 1.0  # a dot above the centre
    kernel[2, 2] = 2.0
    out = stamp((20, 20), [10.0, 5.0], [10.0, 5.0], [1.0, 0.5], [0, 0], [kernel])
    assert out[10, 10] == 2.0 and out[8, 10] == 1.0
    assert out[5, 5] == 1.0 and out[3, 5] == 0.5


def test_kernel_sampling_and_footprints() -> None:
    def disc(dy, dx):  # type: ignore[no-untyped-def]
        return (elliptic_radius(dy, dx, semi_axes=(3.0, 3.0), angle=0.0) <= 1).astype(np.float32)

    k = sample_kernel(disc, 4.0)
    assert k.shape == (9, 9) and abs(float(k.sum()) - np.pi * 9) < 1.5
    feet = stamp_footprints((30, 30), [15.2], [3.0], [0], [k > 0.5])
    assert feet[15, 3] and feet[15, 1] and not feet[15, 8]
