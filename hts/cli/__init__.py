"""Command-line interface (``hts``)."""
