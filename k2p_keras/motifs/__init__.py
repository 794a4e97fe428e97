"""Stage 3, the motifs: from the scan's sums to PWM sets (exact at the estimated base, heuristic).

The module map: docs/ARCHITECTURE.md.
"""
