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


def require_write(settings: SettingsDep, credentials: Credentials) -> None:
    """Let a write through, or answer 403 (writes disabled) or 401 (missing or wrong token)."""
    access = write_access(settings)
    if access == "disabled":
        raise HTTPException(status_code=403, detail="writes are disabled: set CENTERLENS_TOKEN")
    if access == "open":
        return
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        detail = "this server needs a token for writes: send Authorization: Bearer <CENTERLENS_TOKEN>"
        raise HTTPException(status_code=401, detail=detail, headers=challenge)
    if not hmac.compare_digest(credentials.credentials.encode(), settings.token.encode()):
        raise HTTPException(status_code=401, detail="wrong token", headers=challenge)
