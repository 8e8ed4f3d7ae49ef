"""Vigil HTTP API (FastAPI): auth, cameras, commands, live view, recordings, metrics.

The composition root is :func:`vigil_api.app.create_app`; ``vigil api`` runs it under uvicorn
(:mod:`vigil_api.main`).
"""

__version__ = "0.1.0"
