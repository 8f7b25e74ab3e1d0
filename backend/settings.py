"""Server settings, read from ``CENTERLENS_*`` environment variables (never built at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Everything the API server needs; ``Settings(database_url=...)`` overrides the environment."""

    model_config = SettingsConfigDict(env_prefix="CENTERLENS_", extra="ignore")

    database_url: str = "centerlens.db"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    token: str | None = None  # bearer token for the run queue's writes (see backend.auth)
    # Host header names served besides the loopback ones (comma-separated in the environment)
    allowed_hosts: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = Field(1_048_576, ge=0)  # larger request bodies are a 413
    max_event_streams: int = Field(64, ge=1)  # open /api/events streams, all clients together
    max_event_streams_per_client: int = Field(8, ge=1)  # open /api/events streams of one client address
    data_dir: Path = Path("data")  # datasets, for runs queued from the dashboard (run queue)
    # folders besides data_dir that a queued run may name as its data_dir or checkpoint_dir
    # (comma-separated in the environment); any other path in a queued run's settings is a 422
    allowed_dirs: Annotated[list[Path], NoDecode] = []
    configs_dir: Path = ROOT / "configs"  # experiment files the dashboard can queue by name
    frontend_dir: Path = ROOT / "frontend"
    projector: bool = True
    events_poll_seconds: float = 1.0
    gzip_minimum_bytes: int = 1000

    @field_validator("allowed_dirs", "allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """``"/data/a, /data/b"`` -> two folders, ``"a.example,b.example"`` -> two names."""
        if not isinstance(value, str):
            return value
        return [part.strip() for part in value.split(",") if part.strip()]

    def queue_folders(self) -> list[Path]:
        """The folders a queued run's path settings may lie in: the data folder and ``allowed_dirs``."""
        return [self.data_dir, *self.allowed_dirs]
