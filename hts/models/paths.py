"""Locating weight files: shipped ones by name, or any path."""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MODEL", "DEFAULT_SEGMENTER", "model_path", "weights_model_id"]

#: The U-Net shipped with hts (trained from scratch on domain-randomised synthetic data).
DEFAULT_MODEL = "unet-r34-v6"
#: The segmenter setting `hts run`, `hts evaluate`, `hts demo` and the flows use unless
#: told otherwise (`hts.segment.SegmenterSpec.parse` reads it): the shipped U-Net at half
#: resolution, as in the paper; a closer look at twice the scale in a window around a
#: small or doubtful spheroid (``+near``, `hts.segment.network.ZoomRule.near`); then its
#: outline grown to the dark cells around it (``+edge``, `hts.segment.outline`). Each
#: step measured better on the real images, the held-out renderer or our own test set
#: and no worse on the others (docs/model-card.md); ``unet`` is the network alone, one
#: pass. ``unet+zoom`` looks again at the whole image, also where the first look found
#: nothing: up to five network passes on those images, a named mode for
#: low-magnification and whole-well plates.
DEFAULT_SEGMENTER = "unet+near+edge"
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

    Reads the id only: no network is built and no tensor is read, so a client that plans a
    run needs neither the memory nor the import time of torch.
    """
    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
        ids = [p.value for p in proto.metadata_props if p.key == "model_id"]
        return ids[0] if ids else path.stem
    header = _pt_header(path)
    return str(header.get("model_id", path.stem))


def _tensor_global(module: str, name: str) -> bool:
    """Whether ``module.name`` is one of the names ``torch.save`` writes for tensors
    (rebuilders, storage classes, sizes, devices, dtypes): nothing that runs other code."""
    if module == "torch._utils":
        return name.startswith("_rebuild_")
    if module == "torch":
        return name.endswith("Storage") or name in {"Size", "device"} or name in _DTYPES
    return False


#: dtype names torch pickles as ``torch.<name>``
_DTYPES = frozenset(
    f"{kind}{bits}"
    for kind, sizes in (("float", (16, 32, 64)), ("int", (8, 16, 32, 64)), ("uint", (8,)))
    for bits in sizes
) | {"bfloat16", "bool", "half", "long"}


class _HeaderUnpickler(pickle.Unpickler):
    """Unpickles a torch checkpoint's dict with every tensor left out (as None).

    Only plain containers are built: torch's tensor rebuilders become a stub, and any
    other name, of torch's too (``torch.serialization.load``, ...), is refused, so no
    code from the file runs and a file the workers' ``weights_only`` load would refuse
    is refused here first, before any worker starts.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if _tensor_global(module, name):
            return _stub
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a weight file")

    def persistent_load(self, pid: Any) -> None:  # tensor storages live outside the pickle
        return None


def _stub(*args: Any, **kwargs: Any) -> None:
    return None


def _pt_header(path: Path) -> dict[str, Any]:
    """The top-level dict of a torch zip checkpoint, tensors as None."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            with archive.open(name) as f:
                data = _HeaderUnpickler(f).load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: refused: {exc}") from None
    except (zipfile.BadZipFile, StopIteration, EOFError) as exc:
        raise ValueError(f"{path}: not a torch weight file ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not an hts weight file (no dict at the top)")
    return data
