"""Qualicité: the quality-of-service platform for French local authorities."""

__version__ = "0.1.0"
