"""Who may write (queue and cancel runs): a bearer token, unless the server listens on loopback only.

- a token is configured (``CENTERLENS_TOKEN``): every write needs ``Authorization: Bearer <token>``;
- no token, loopback host (127.0.0.1, ::1, localhost): writes are open to whoever can reach the port,
  i.e. this machine;
- no token, any other host: writes are disabled (403), since anyone on the network could queue runs.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated, Literal

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.deps import SettingsDep
from backend.schemas import ErrorMessage
from backend.settings import Settings

WriteAccess = Literal["open", "token", "disabled"]

bearer = HTTPBearer(
    auto_error=False,
    description="CENTERLENS_TOKEN: needed for writes, except on a loopback server with no token set",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

# documented error answers of every write endpoint
WRITE_ERRORS = {
    401: {"model": ErrorMessage, "description": "a token is needed: none came, or a wrong one"},
    403: {"model": ErrorMessage, "description": "writes are disabled: a non-loopback server with no token"},
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def write_access(settings: Settings) -> WriteAccess:
    """``token`` when a token is configured, else ``open`` on loopback and ``disabled`` elsewhere."""
    if settings.token:
        return "token"
    return "open" if is_loopback(settings.host) else "disabled"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for no header or another scheme."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def write_refusal(settings: Settings, token: str | None) -> HTTPException | None:
    """Why a write with bearer ``token`` (or None) is refused (403 or 401); None if it may write."""
    access = write_access(settings)
    if access == "disabled":
        return HTTPException(status_code=403, detail="writes are disabled: set CENTERLENS_TOKEN")
    if access == "open":
        return None
    challenge = {"WWW-Authenticate": "Bearer"}
    if token is None:
        detail = "this server needs a token for writes: send Authorization: Bearer <CENTERLENS_TOKEN>"
        return HTTPException(status_code=401, detail=detail, headers=challenge)
    if not hmac.compare_digest(token.encode(), settings.token.encode()):
        return HTTPException(status_code=401, detail="wrong token", headers=challenge)
    return None


def require_write(settings: SettingsDep, credentials: Credentials) -> None:
    """Let a write through, or answer 403 (writes disabled) or 401 (missing or wrong token).

    ``backend.guards.WriteGuard`` applies the same rule before the body is read; this dependency
    documents the bearer scheme in the OpenAPI schema and guards the route itself.
    """
    refusal = write_refusal(settings, credentials.credentials if credentials else None)
    if refusal is not None:
        raise refusal
