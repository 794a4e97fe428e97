"""File formats in and out: sequences and their labels, MEME, k2p-1.0 matrices, text written atomically;
untrusted files checked before they are read.

The module map: docs/ARCHITECTURE.md.
"""
