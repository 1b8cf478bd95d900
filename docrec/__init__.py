"""docrec: the application layer (recognisers, command line, bundled weights).

The recogniser classes are imported lazily so that ``import docrec`` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
