"""Locating weight files: shipped ones by name, or any path."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL", "model_path", "weights_model_id"]

#: The U-Net shipped with hts (trained from scratch on domain-randomised synthetic data).
DEFAULT_MODEL = "unet-r34-v2"
_HERE = Path(__file__).parent


def model_path(name_or_path: str | Path = DEFAULT_MODEL) -> Path:
    """A shipped model's file (by name) or an existing weight file (by path)."""
    path = Path(name_or_path)
    if path.suffix and path.is_file():
        return path
    shipped = _HERE / f"{name_or_path}.pt"
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in _HERE.glob("*.pt"))
    raise FileNotFoundError(
        f"no model {str(name_or_path)!r}: not a weight file, and not a shipped model "
        f"({', '.join(names) or 'none shipped'})"
    )


def weights_model_id(path: Path | str) -> str:
    """The ``model_id`` a weight file (``.pt`` or our ``.onnx`` export) carries, else its stem.

    Reads the id only: no network is built, and ``.pt`` tensors stay on disk (memory-mapped).
    """
    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
        ids = [p.value for p in proto.metadata_props if p.key == "model_id"]
        return ids[0] if ids else path.stem
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return str(data.get("model_id", path.stem))
