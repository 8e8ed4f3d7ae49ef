"""Vigil recorder service."""
