"""The PWMs against a motif database: memelite's Tomtom, JASPAR releases from pyjaspar (:mod:`.tomtom`).

The module map: docs/ARCHITECTURE.md.
"""
