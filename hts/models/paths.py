"""Locating weight files: shipped ones by name, or any path."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL", "model_path"]

#: The U-Net shipped with hts (trained from scratch on domain-randomised synthetic data).
DEFAULT_MODEL = "unet-r34-v1"
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
