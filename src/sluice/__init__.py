"""sluice: CI/CD for data pipelines.

The public library API lives in the layer packages; the most used entry points are
re-exported here.
"""

import logging

from sluice.errors import SluiceError

# sqlglot logs what it cannot parse ("Falling back to parsing as a 'Command'") as warnings;
# with no handler configured Python would print them on stderr. sluice reports what it
# cannot read itself (library code never prints), so they go nowhere unless an application
# configures logging.
logging.getLogger("sqlglot").addHandler(logging.NullHandler())

__all__ = ["SluiceError", "__version__"]

__version__ = "0.1.0"
