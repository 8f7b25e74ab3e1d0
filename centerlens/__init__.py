"""centerlens: record and visualise how a network's feature space organises into classes."""

__version__ = "0.1.0"
