"""The Textual front end: home, training dashboard, runs and watch screens.

It consumes the same event stream as the headless progress display (``engine.train``); training
runs off the UI thread (``runner.py``), so the interface stays responsive.
"""
