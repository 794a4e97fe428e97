"""Stage 2, the scan: each sequence's best window per filter, summed for the MLE and the heuristic.

The module map: docs/ARCHITECTURE.md.
"""
