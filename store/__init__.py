"""The store shared by the trainer, the projector and the API: schema, engine, array codec."""

from store.codec import decode_array, encode_array
from store.engine import create_db_engine, database_url, open_sessions, session_factory, upgrade_database
from store.models import (
    Base,
    ClassEpoch,
    EmbeddingSnapshot,
    Epoch,
    ProbeSample,
    Projection,
    Run,
    RunStatus,
)

__all__ = [
    "Base",
    "ClassEpoch",
    "EmbeddingSnapshot",
    "Epoch",
    "ProbeSample",
    "Projection",
    "Run",
    "RunStatus",
    "create_db_engine",
    "database_url",
    "decode_array",
    "encode_array",
    "open_sessions",
    "session_factory",
    "upgrade_database",
]
