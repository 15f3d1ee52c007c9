"""Reading microscope files and writing OME-Zarr plates."""

from hts.io.ingest_report import IngestReport, Problem, ProblemKind
from hts.io.ingest_steps import IngestOptions
from hts.io.naming import PRESETS, NameFields, NamingError
from hts.io.omezarr import DamagedImageError, PlateStore, TimepointInfo
from hts.io.readers import ImageData, ImageHeader, ImageReadError, read_header, read_image
from hts.io.tables import TableError, WellInfo, read_manifest, read_plate_map
from hts.io.verify import PlateCheck, verify_plate

__all__ = [
    "PRESETS",
    "DamagedImageError",
    "ImageData",
    "ImageHeader",
    "ImageReadError",
    "IngestOptions",
    "IngestReport",
    "NameFields",
    "NamingError",
    "PlateCheck",
    "PlateStore",
    "Problem",
    "ProblemKind",
    "TableError",
    "TimepointInfo",
    "WellInfo",
    "read_header",
    "read_image",
    "read_manifest",
    "read_plate_map",
    "verify_plate",
]
