"""Shared shapes: errors and pages."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Every error response: a human-readable reason."""

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: the reason in one line, and each invalid field (the input is never echoed)."""

    detail: str
    errors: list[ValidationErrorItem] = []


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a listing (recordings, events, snapshots): the rows and how many match."""

    items: list[ItemT]
    total: int = Field(description="Matching rows; a lower bound when total_exact is false.")
    total_exact: bool
    limit: int
    offset: int


# Declared on every router (app.py): any route may answer these.
COMMON_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Malformed request (e.g. a body that is not JSON, a bad Host)"},
    422: {"model": ValidationErrorOut, "description": "Invalid input, with the reason"},
}
