"""TensorRT engine: the cached ONNX export compiled for this node's GPU, fp16 by default.

Building an engine takes minutes, so it happens once per node: the serialized engine is
cached under a key of model hash, GPU (compute capability and name), TensorRT version and
build settings, beside a timing cache that speeds up later builds, and one process of a
node builds while the others wait for it. Device buffers are torch CUDA tensors.

The module imports without TensorRT; constructing the engine needs ``tensorrt`` (10.x,
or 11.x where fp16 comes from a float16 ONNX export since weak typing is gone) and a
CUDA build of torch.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hts.engines.base import check_batch
from hts.engines.cache import atomic_write_bytes, exclusive_lock, file_digest, resolve_cache_dir
from hts.engines.onnx_export import INPUT_NAME, OUTPUT_NAME, cached_onnx
from hts.engines.settings import MAX_INPUT_ENV, parse_max_input, tensorrt_max_input
from hts.models.paths import weights_model_id

__all__ = ["MAX_INPUT_ENV", "ShapeProfile", "TensorRTEngine"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShapeProfile:
    """Network input sizes (Y, X in pixels) a TensorRT engine accepts and is tuned for.

    The defaults suit the paper's half-resolution inputs (e.g. 1030 x 1300 images give
    544 x 672 network inputs). Inputs outside ``min_yx``..``max_yx`` are refused; see
    `from_env` for larger images or input scales.
    """

    min_yx: tuple[int, int] = (32, 32)
    opt_yx: tuple[int, int] = (544, 672)
    max_yx: tuple[int, int] = (544, 672)
    opt_batch: int = 8

    def __post_init__(self) -> None:
        for axis in (0, 1):
            if not 0 < self.min_yx[axis] <= self.opt_yx[axis] <= self.max_yx[axis]:
                raise ValueError(f"need 0 < min <= opt <= max for Y and X, got {self}")
        if self.opt_batch < 1:
            raise ValueError(f"opt_batch must be >= 1, got {self.opt_batch}")

    @classmethod
    def from_env(cls, *, opt_batch: int = 8) -> ShapeProfile:
        """The default profile, or one up to ``$HTS_TENSORRT_MAX_INPUT`` (``YxX`` network
        input pixels, e.g. ``640x800`` for ``unet@0.6`` on 1030 x 1300 images, ``1024x1024``
        for 2048 x 2048 images at half resolution), tuned for that size.

        A larger profile takes more GPU memory per engine (sized for the largest input).
        """
        return cls.up_to(tensorrt_max_input(), opt_batch=opt_batch)

    @classmethod
    def up_to(cls, max_input: tuple[int, int] | str | None, *, opt_batch: int = 8) -> ShapeProfile:
        """The default profile (``max_input`` None), or one up to ``max_input`` (``(Y, X)``
        or ``"YxX"`` network input pixels, multiples of 32), tuned for that size."""
        if max_input is None:
            return cls(opt_batch=opt_batch)
        yx = parse_max_input(max_input) if isinstance(max_input, str) else tuple(max_input)
        if len(yx) != 2 or any(n % 32 for n in yx):
            raise ValueError(
                f"max_input={max_input!r}: network inputs are padded to multiples of 32"
            )
        return cls(opt_yx=(yx[0], yx[1]), max_yx=(yx[0], yx[1]), opt_batch=opt_batch)

    def accepts(self, yx: tuple[int, int]) -> bool:
        return all(lo <= n <= hi for lo, n, hi in zip(self.min_yx, yx, self.max_yx, strict=True))

    def tag(self) -> str:
        """The profile in a file name, e.g. ``32x32-544x672-544x672-o8``."""
        sizes = "-".join(f"{y}x{x}" for y, x in (self.min_yx, self.opt_yx, self.max_yx))
        return f"{sizes}-o{self.opt_batch}"


class TensorRTEngine:
    """The network as a TensorRT engine on the current CUDA device.

    Parameters
    ----------
    weights : path
        A ``.pt`` weight file or an ``.onnx`` file of :func:`export_onnx`.
    fp16 : bool
        Let TensorRT run layers in float16 (input and output stay float32).
    max_batch : int
        Largest batch per engine call; larger batches are run in chunks.
    max_input : (Y, X) or "YxX", optional
        Largest network input the engine accepts, and the size it is tuned for; default:
        `hts.engines.settings.tensorrt_max_input` (``$HTS_TENSORRT_MAX_INPUT``), else the
        half-resolution sizes of :class:`ShapeProfile`.
    profile : ShapeProfile, optional
        The whole profile instead of ``max_input``; ``opt_batch`` at most ``max_batch``.
    cache_dir : path, optional
        Where ONNX exports, engines and the timing cache live; default:
        :func:`hts.engines.cache.resolve_cache_dir`.
    """

    def __init__(
        self,
        weights: Path | str,
        *,
        fp16: bool = True,
        max_batch: int = 32,
        max_input: tuple[int, int] | str | None = None,
        profile: ShapeProfile | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        import tensorrt as trt
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("the TensorRT engine needs a CUDA GPU; none is visible to torch")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.fp16 = fp16
        self.max_batch = max_batch
        if profile is not None and max_input is not None:
            raise ValueError("give max_input or profile, not both")
        if profile is None:
            max_input = max_input if max_input is not None else tensorrt_max_input()
            profile = ShapeProfile.up_to(max_input, opt_batch=min(8, max_batch))
        self.profile = profile
        self.device = torch.device("cuda", torch.cuda.current_device())
        directory = resolve_cache_dir(cache_dir)
        # TensorRT 11 dropped BuilderFlag.FP16: there fp16 has to be in the ONNX graph.
        self._fp16_flag = fp16 and hasattr(trt.BuilderFlag, "FP16")
        half_onnx = fp16 and not self._fp16_flag and Path(weights).suffix != ".onnx"
        onnx_path = cached_onnx(weights, cache_dir=directory, half=half_onnx)
        key = f"{file_digest(onnx_path)}-{self._device_tag()}-{self._settings_tag()}"
        self.engine_path = directory / "tensorrt" / f"{key}.engine"
        self._runtime = trt.Runtime(_trt_logger())
        self._engine = self._load_or_build(onnx_path)
        self._context = self._engine.create_execution_context()
        self._stream = torch.cuda.Stream(self.device)
        self._lock = threading.Lock()
        self._input_dtype = _torch_dtype(self._engine.get_tensor_dtype(INPUT_NAME))
        self._output_dtype = _torch_dtype(self._engine.get_tensor_dtype(OUTPUT_NAME))
        self.model_id = weights_model_id(weights)

    @property
    def name(self) -> str:
        return f"tensorrt-{'fp16' if self.fp16 else 'fp32'}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Spheroid probabilities of a batch.

        Parameters
        ----------
        batch : (B, Y, X) uint8
            Preprocessed network input; Y, X within the engine's :class:`ShapeProfile`.

        Returns
        -------
        (B, Y, X) float32
            Probability of the spheroid class, in [0, 1].
        """
        import torch

        batch = check_batch(batch)
        yx = (batch.shape[1], batch.shape[2])
        if not self.profile.accepts(yx):
            raise ValueError(
                f"network input Y, X {yx} is outside this TensorRT engine's profile "
                f"{self.profile.min_yx}..{self.profile.max_yx}; for larger images or input "
                f"scales set {MAX_INPUT_ENV}={yx[0]}x{yx[1]} (or larger) on the GPU workers"
            )
        if len(batch) == 0:
            return np.zeros(batch.shape, dtype=np.float32)
        parts = []
        # One execution context and stream: calls from several worker threads take turns.
        with self._lock, torch.cuda.device(self.device), torch.cuda.stream(self._stream):
            for start in range(0, len(batch), self.max_batch):
                chunk = torch.from_numpy(batch[start : start + self.max_batch]).to(self.device)
                # uint8 crosses the bus (4x less than float32); scaling happens on the GPU
                x = chunk[:, None].to(self._input_dtype).div_(255.0).contiguous()
                parts.append(self._run(x).float().cpu())  # .cpu() waits for the stream
        return torch.cat(parts).numpy()

    def _run(self, x: Any) -> Any:
        """One engine call on ``self._stream``: ``(b, 1, Y, X)`` -> ``(b, Y, X)`` CUDA tensors."""
        import torch

        if not self._context.set_input_shape(INPUT_NAME, tuple(x.shape)):
            raise ValueError(f"TensorRT refused the input shape {tuple(x.shape)}")
        shape = tuple(self._context.get_tensor_shape(OUTPUT_NAME))
        out = torch.empty(shape, dtype=self._output_dtype, device=self.device)
        self._context.set_tensor_address(INPUT_NAME, x.data_ptr())
        self._context.set_tensor_address(OUTPUT_NAME, out.data_ptr())
        if not self._context.execute_async_v3(self._stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        return out

    def _load_or_build(self, onnx_path: Path) -> Any:
        """The cached engine for this key, built (by one process of the node) if missing."""
        engine = self._load()
        if engine is not None:
            return engine
        with exclusive_lock(self.engine_path.with_name(self.engine_path.name + ".lock")):
            engine = self._load()  # another process may have built it while we waited
            if engine is None:
                self._build(onnx_path)
                engine = self._load()
        if engine is None:
            raise RuntimeError(f"TensorRT could not load the engine it built: {self.engine_path}")
        return engine

    def _load(self) -> Any:
        if not self.engine_path.is_file():
            return None
        engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if engine is None:
            logger.warning("cannot load cached TensorRT engine %s; rebuilding it", self.engine_path)
        else:
            logger.info("loaded TensorRT engine %s", self.engine_path)
        return engine

    def _build(self, onnx_path: Path) -> None:
        import tensorrt as trt

        logger.info(
            "building TensorRT engine %s from %s (takes minutes)", self.engine_path, onnx_path
        )
        builder = trt.Builder(_trt_logger())
        flags = 0
        strongly_typed = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        if self.fp16 and not self._fp16_flag and strongly_typed is not None:
            flags |= 1 << int(strongly_typed)  # TensorRT 11 types every network strongly anyway
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, _trt_logger())
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        if self._fp16_flag:
            config.set_flag(trt.BuilderFlag.FP16)
        shapes = self.profile
        optimisation = builder.create_optimization_profile()
        optimisation.set_shape(
            INPUT_NAME,
            min=(1, 1, *shapes.min_yx),
            opt=(min(shapes.opt_batch, self.max_batch), 1, *shapes.opt_yx),
            max=(self.max_batch, 1, *shapes.max_yx),
        )
        config.add_optimization_profile(optimisation)
        timing_path = self.engine_path.parent / f"timing-{self._device_tag()}.cache"
        blob = timing_path.read_bytes() if timing_path.is_file() else b""
        # a cache from another device or version only misses; it never breaks the build
        config.set_timing_cache(config.create_timing_cache(blob), ignore_mismatch=True)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT could not build an engine from {onnx_path}")
        atomic_write_bytes(timing_path, memoryview(config.get_timing_cache().serialize()))
        atomic_write_bytes(self.engine_path, memoryview(serialized))
        logger.info("saved TensorRT engine %s", self.engine_path)

    def _device_tag(self) -> str:
        """GPU and TensorRT version, e.g. ``sm90-NVIDIA_H100_80GB_HBM3-trt10.13.0``."""
        import tensorrt as trt
        import torch

        major, minor = torch.cuda.get_device_capability(self.device)
        gpu = re.sub(r"[^A-Za-z0-9.]+", "_", torch.cuda.get_device_name(self.device))
        return f"sm{major}{minor}-{gpu}-trt{trt.__version__}"

    def _settings_tag(self) -> str:
        return f"{'fp16' if self.fp16 else 'fp32'}-b{self.max_batch}-{self.profile.tag()}"


def _torch_dtype(trt_dtype: Any) -> Any:
    import tensorrt as trt
    import torch

    dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
    if trt_dtype not in dtypes:
        raise TypeError(f"unexpected TensorRT I/O type {trt_dtype}")
    return dtypes[trt_dtype]


@functools.cache
def _trt_logger() -> Any:
    """One TensorRT logger per process (TensorRT wants one), forwarding to ``logging``."""
    import tensorrt as trt

    severity = trt.ILogger.Severity
    levels = {
        severity.INTERNAL_ERROR: logging.CRITICAL,
        severity.ERROR: logging.ERROR,
        severity.WARNING: logging.WARNING,
        severity.INFO: logging.DEBUG,  # TensorRT's INFO is chatty
        severity.VERBOSE: logging.NOTSET,  # dropped
    }

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, level: Any, msg: str) -> None:
            python_level = levels.get(level, logging.INFO)
            if python_level and logger.isEnabledFor(python_level):
                logger.log(python_level, "TensorRT: %s", msg)

    return _Logger()
