"""Training the segmentation network (the paper's recipe) on synthetic or a lab's own data.

Uses only ``hts``'s public API plus torch; ``hts train`` calls :func:`training.cli.main`.
"""

__all__: list[str] = []
