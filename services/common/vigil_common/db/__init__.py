"""Database models, engine and migrations (server side only: ``pip install vigil-common[db]``)."""
