"""Benchmarks of k2p-keras: ``python benchmarks/<name>.py`` (``python -m benchmarks.paper`` for the paper's)."""
