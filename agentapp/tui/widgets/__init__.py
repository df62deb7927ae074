"""Widgets the screens are built from: plots, panels, the live game view, forms."""
