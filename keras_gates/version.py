"""The single source of keras-gates' version."""

__version__ = "0.2.0"
