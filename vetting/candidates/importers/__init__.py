"""Importers: NASA Exoplanet Archive tables, FITS light curves, pre-folded view bundles, demo data.

Each importer is called through :mod:`vetting.candidates.services` (the one code path used by
management commands, the API upload endpoints, the admin and the Celery import task).
"""
