"""The back office's router: every page module adds its routes to it, under
``/admin`` and out of the published API schema."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin", include_in_schema=False)

__all__ = ["router"]
