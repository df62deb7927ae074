"""Tests of the Textual interface, driven by scripted event streams (never live training)."""
