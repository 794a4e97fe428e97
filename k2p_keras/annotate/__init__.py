"""Stage 4, for people: known motifs (Tomtom against JASPAR), logos and the HTML report.

- :mod:`.tomtom`: motifs against a database (memelite's Tomtom, pyjaspar's JASPAR);
- :mod:`.logos`: information-content sequence logos (matplotlib);
- :mod:`.report`: one self-contained HTML report.
"""
