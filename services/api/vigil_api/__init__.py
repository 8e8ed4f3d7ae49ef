"""Vigil api service."""
