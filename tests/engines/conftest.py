"""Shared fixtures: a tiny trained U-Net weight file, its ONNX exports, a disk batch.

The network is the real one (U-Net, ResNet34 encoder), trained for a few steps on dark
disks so that its masks mean something: engines are compared on decisive probabilities,
not on the ~0.5 everywhere of an untrained network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hts.engines import CACHE_DIR_ENV
from hts.testing import disk_image

#: (radius_px, (shift_y, shift_x)) of the disks in the test batch.
_TEST_DISKS = [(20.0, (5, -20)), (30.0, (-10, 15))]


def shifted_disk(
    shape: tuple[int, int], radius_px: float, shift: tuple[int, int], *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A dark disk moved off-centre: ``(image (Y, X) uint8, mask (Y, X) bool)``."""
    image, mask = disk_image(shape, radius_px, seed=seed, dtype=np.uint8)
    return np.roll(image, shift, axis=(0, 1)), np.roll(mask, shift, axis=(0, 1))


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread: with a second busy process, two threads are ~30x slower."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache directory for the session's exports."""
    return tmp_path_factory.mktemp("hts-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines built with default options cache into the session's directory, not ~/.cache."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache_dir))


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weight file (model id ``test-net``) of a U-Net trained 12 steps on 64 x 64 disks."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("segmentation_models_pytorch")
    from hts.models import ModelConfig, build_model, save_weights

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = build_model(ModelConfig())
        rng = np.random.default_rng(0)
        samples = [
            shifted_disk((64, 64), rng.uniform(8, 21), tuple(rng.integers(-12, 13, 2)), seed=i)
            for i in range(4)
        ]
        x = torch.from_numpy(np.stack([s[0] for s in samples])[:, None] / np.float32(255))
        y = torch.from_numpy(np.stack([s[1] for s in samples]).astype(np.int64))
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(12):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        # Running statistics from 12 steps lag behind the weights: recompute them exactly.
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.momentum = None
        with torch.no_grad():
            model(x)
        model.eval()
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    return save_weights(model, path, config=ModelConfig(), model_id="test-net")


@pytest.fixture(scope="session")
def onnx_file(weights: Path, cache_dir: Path) -> Path:
    """The weight file's fp32 ONNX export, in the session cache."""
    from hts.engines.onnx_export import cached_onnx

    return cached_onnx(weights, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def half_onnx_file(weights: Path, cache_dir: Path) -> Path:
    """The weight file's float16 ONNX export (what TensorRT 11 builds from)."""
    from hts.engines.onnx_export import cached_onnx

    return cached_onnx(weights, cache_dir=cache_dir, half=True)


@pytest.fixture(scope="session")
def disk_batch() -> tuple[np.ndarray, np.ndarray]:
    """Network input ``(2, 96, 128)`` uint8 and the true masks ``(2, 96, 128)`` bool."""
    pairs = [
        shifted_disk((96, 128), radius, shift, seed=10 + i)
        for i, (radius, shift) in enumerate(_TEST_DISKS)
    ]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
