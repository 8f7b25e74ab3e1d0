"""How answers are rendered: JSON that survives unencodable strings, and one-line validation errors.

A JSON column can hold a lone surrogate (a run queued as ``{"data_dir": "\\udfff"}`` before the
door refused them): Pydantic's JSON encoder and UTF-8 both reject it, which made the run a 500
forever. ``RobustJSONResponse`` renders such a string with U+FFFD in its place instead (every
route renders through it: as fast as FastAPI's own path, measured on frames, series and runs).

FastAPI's default 422 lists every error with the ``input`` that caused it, so a 200 MB body came
back in the answer; ``one_line_validation_error`` says where and what in one line, never the input.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import PydanticSerializationError, to_json

from backend.schemas import ErrorMessage

MAX_DETAIL_CHARS = 300

# the app documents every 422 as one line (FastAPI would document its list of errors)
VALIDATION_ERROR = {422: {"model": ErrorMessage, "description": "a malformed request: where and what"}}


def replace_unencodable(text: str) -> str:
    """``text`` with each lone surrogate (which UTF-8 cannot encode) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class RobustJSONResponse(JSONResponse):
    """Compact JSON in UTF-8 (Pydantic's Rust encoder, NaN as null like FastAPI's fast path); a lone
    surrogate in a string becomes U+FFFD instead of a 500."""

    def render(self, content: Any) -> bytes:
        """Serialise ``content`` (already JSON-compatible)."""
        try:
            return to_json(content, inf_nan_mode="null")
        except PydanticSerializationError:  # a string UTF-8 cannot encode
            return to_json(_encodable(content), inf_nan_mode="null")


def _encodable(value: Any) -> Any:
    """``value`` with every string (keys too) passed through ``replace_unencodable``."""
    if isinstance(value, str):
        return replace_unencodable(value)
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


def describe(error: dict[str, Any]) -> str:
    """``"query.runs: String should match pattern ..."``: one validation error, location then message."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = (str(error.get("msg") or "").splitlines() or ["invalid value"])[0]
    return f"{where}: {message}" if where else message


async def one_line_validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    """422 ``{"detail": "<loc>: <msg>"}`` for the first error (and how many more), without the input."""
    errors = list(error.errors())
    detail = describe(errors[0]) if errors else "malformed request"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 3] + "..."
    return RobustJSONResponse({"detail": replace_unencodable(detail)}, status_code=422)
