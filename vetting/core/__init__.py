"""The bottom layer of the Django side: roles, shared admin tools, JSON/CSV helpers.

It imports no domain app (``candidates``, ``reviews``, ``learning``), no interface layer
(``vetting.web``, ``api``), so every one of them can import it.
"""
