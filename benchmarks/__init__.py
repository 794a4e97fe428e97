"""Benchmarks of k2p-keras; each one a package run with ``python -m benchmarks.<name>``."""
