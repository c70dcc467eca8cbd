"""sluice: CI/CD for data pipelines.

The public library API lives in the layer packages; the most used entry points are
re-exported here.
"""

from sluice.errors import SluiceError

__all__ = ["SluiceError", "__version__"]

__version__ = "0.1.0"
