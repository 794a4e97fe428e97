"""What draws: logos (:mod:`.logos`), one filter as the reports show it (:mod:`.filters`), the HTML
the reports share (:mod:`.html`), the report of a model (:mod:`.report`) and of a training run
(:mod:`.emergence`).

The module map: docs/ARCHITECTURE.md.
"""
