"""Vigil capture service: source -> overlay -> JPEG -> VGF1 envelope -> MQTT (runs on the camera).

Never imports server-side dependencies (FastAPI, SQLAlchemy, psycopg, RQ, Redis).
"""

__version__ = "0.1.0"
