"""Heatmaps: click facts and frustration signals, backdrops, rasters."""
