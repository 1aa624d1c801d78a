"""sessionlens: self-hosted session replay and heatmaps."""

__version__ = "0.1.0"
