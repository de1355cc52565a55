"""The single source of keras-gates' version."""

__version__ = "0.1.0"
