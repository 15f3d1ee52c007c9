"""Export a weight file to ONNX, once per model file, for engines that do not need torch.

The exported graph is the whole engine contract, softmax included:

- input ``image``: ``(B, 1, Y, X)`` float32, the preprocessed uint8 batch divided by 255;
- output ``probability``: ``(B, Y, X)`` float32, softmax channel 1 (spheroid) in [0, 1].

B, Y and X are dynamic (Y and X multiples of 32). The model's id, the weight file's hash
and the exporter's versions travel in the ONNX ``metadata_props``.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hts.engines.cache import atomic_write_bytes, exclusive_lock, file_digest, resolve_cache_dir

__all__ = ["INPUT_NAME", "ONNX_OPSET", "OUTPUT_NAME", "cached_onnx", "export_onnx"]

logger = logging.getLogger(__name__)

#: Names of the graph's input and output.
INPUT_NAME = "image"
OUTPUT_NAME = "probability"
#: ONNX opset of the exports (17: supported by ONNX Runtime >= 1.13 and TensorRT >= 8.6).
ONNX_OPSET = 17
#: Y, X of the example input used to trace the network (any multiple of 32 will do).
_TRACE_YX = (64, 64)


def export_onnx(
    weights: Path | str, out: Path | str, *, opset: int = ONNX_OPSET, half: bool = False
) -> Path:
    """Export a weight file to an ONNX file that maps images to spheroid probabilities.

    Uses the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``); the file is
    written atomically.

    Parameters
    ----------
    weights : path
        A weight file of :func:`hts.models.unet.save_weights`.
    out : path
        The ONNX file to write.
    opset : int
        ONNX opset version.
    half : bool
        Store weights and compute the network in float16 (for strongly typed TensorRT
        builds); input and output stay float32 and the softmax runs in float32.

    Returns
    -------
    Path
        ``out``. Input ``image`` (B, 1, Y, X) float32 in [0, 1]; output ``probability``
        (B, Y, X) float32.
    """
    import onnx
    import torch

    from hts.models.unet import load_weights

    weights, out = Path(weights), Path(out)
    model, config, info = load_weights(weights)
    net = _probability_net(model.half() if half else model, half=half).eval()
    example = torch.zeros((1, 1, *_TRACE_YX), dtype=torch.float32)
    with (
        tempfile.TemporaryDirectory(prefix="hts-onnx-") as tmp,
        warnings.catch_warnings(),
        torch.no_grad(),
    ):
        # The TorchScript exporter is deprecated in favour of torch.export; it is the one
        # that exports this network with dynamic Y, X and without onnxscript.
        warnings.filterwarnings(
            "ignore", "You are using the legacy TorchScript", DeprecationWarning
        )
        warnings.filterwarnings("ignore", "The feature will be removed", DeprecationWarning)
        raw = Path(tmp) / "model.onnx"
        torch.onnx.export(
            net,
            (example,),
            raw,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                OUTPUT_NAME: {0: "batch", 1: "height", 2: "width"},
            },
        )
        proto = onnx.load(raw)
    metadata = {
        "model_id": str(info.get("model_id", weights.stem)),
        "weights_sha256": file_digest(weights),
        "arch": config.arch,
        "encoder": config.encoder,
        "precision": "fp16" if half else "fp32",
        "exporter": f"torch {torch.__version__} torch.onnx (TorchScript)",
    }
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    atomic_write_bytes(out, proto.SerializeToString())
    logger.info("exported %s to %s (opset %d, %s)", weights, out, opset, metadata["precision"])
    return out


def cached_onnx(
    weights: Path | str, *, cache_dir: Path | str | None = None, half: bool = False
) -> Path:
    """The ONNX export of a weight file, exported once per file content and then reused.

    The export lives in the cache directory under the weight file's SHA-256 (first 16 hex
    digits); concurrent callers on one node wait for a single export. A weight file that
    is already ONNX is returned as it is.

    Parameters
    ----------
    weights : path
        A ``.pt`` weight file of :func:`hts.models.unet.save_weights`, or an ``.onnx`` file.
    cache_dir : path, optional
        Where exports live; default: :func:`hts.engines.cache.resolve_cache_dir`.
    half : bool
        The float16 variant (see :func:`export_onnx`).

    Returns
    -------
    Path
        An ONNX file with input ``image`` and output ``probability``.
    """
    weights = Path(weights)
    if weights.suffix == ".onnx":
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: no ONNX file here")
        return weights
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: no model weight file here")
    precision = "fp16" if half else "fp32"
    out = (
        resolve_cache_dir(cache_dir) / f"{file_digest(weights)}-opset{ONNX_OPSET}-{precision}.onnx"
    )
    if out.is_file():
        logger.debug("using cached %s for %s", out, weights)
        return out
    with exclusive_lock(out.with_name(out.name + ".lock")):
        if not out.is_file():  # another process may have exported it while we waited
            export_onnx(weights, out, half=half)
    return out


def _probability_net(model: Any, *, half: bool) -> Any:
    """Wrap a logits network as ``(B, 1, Y, X) float32 -> (B, Y, X)`` channel-1 softmax."""
    import torch

    class ProbabilityNet(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            if half:
                return self.net(image.half()).float().softmax(dim=1)[:, 1]
            return self.net(image).softmax(dim=1)[:, 1]

    return ProbabilityNet(model)
