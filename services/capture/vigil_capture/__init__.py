"""Vigil capture service."""
