"""Server settings, read from ``CENTERLENS_*`` environment variables (never built at import time)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Everything the API server needs; ``Settings(database_url=...)`` overrides the environment."""

    model_config = SettingsConfigDict(env_prefix="CENTERLENS_", extra="ignore")

    database_url: str = "centerlens.db"
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # bearer token for the run queue's writes (see backend.auth)
    data_dir: Path = Path("data")  # datasets, for runs queued from the dashboard (run queue)
    configs_dir: Path = ROOT / "configs"  # experiment files the dashboard can queue by name
    frontend_dir: Path = ROOT / "frontend"
    projector: bool = True
    events_poll_seconds: float = 1.0
    gzip_minimum_bytes: int = 1000
