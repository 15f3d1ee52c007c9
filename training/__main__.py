"""``python -m training``: ``hts train`` with only the training stack imported.

For a GPU node that has torch and segmentation-models-pytorch but not the rest of the
pipeline (Dask, Zarr, Prefect): same arguments as ``hts train``.
"""

from __future__ import annotations

import argparse
import logging

from training.cli import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    raise SystemExit(run(parser.parse_args()))
