"""``GET /api/events``: server-sent events when epochs or frames land and when runs change status.

Each subscriber polls the store about once a second with three cheap queries: epochs past the
last seen id, frames stored since the last seen ``created_at`` (the projector rewrites a running
run's PCA frames in place when it refits the basis, with a new ``created_at``), and every run's
status. FastAPI adds a ``: ping`` comment after 15 idle seconds; a client that disconnects
cancels its generator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.deps import SessionsDep, SettingsDep
from backend.projector import RUN_FRAME
from store import Epoch, Projection, Run

router = APIRouter(tags=["events"])


class StoreWatcher:
    """Turns what changed in the store since the previous poll into events."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        with sessions() as session:
            self.last_epoch_id = session.scalar(select(func.max(Epoch.id))) or 0
            self.last_frame_time = session.scalar(select(func.max(Projection.created_at)))
            self.statuses = dict(session.execute(select(Run.id, Run.status)).all())

    def poll(self) -> list[ServerSentEvent]:
        """Events for the runs, epochs and frames that appeared or changed since the last poll."""
        new_epochs = select(Epoch.id, Epoch.run_id, Epoch.epoch).where(Epoch.id > self.last_epoch_id)
        new_frames = select(Projection.run_id, Projection.epoch, Projection.method, Projection.created_at)
        new_frames = new_frames.where(Projection.frame == RUN_FRAME)
        if self.last_frame_time is not None:
            new_frames = new_frames.where(Projection.created_at > self.last_frame_time)
        with self.sessions() as session:
            statuses = dict(session.execute(select(Run.id, Run.status)).all())
            epochs = session.execute(new_epochs.order_by(Epoch.id)).all()
            frames = session.execute(new_frames.order_by(Projection.created_at)).all()
        self.last_epoch_id = max([self.last_epoch_id, *(row.id for row in epochs)])
        self.last_frame_time = frames[-1].created_at if frames else self.last_frame_time
        changed = [run_id for run_id, status in statuses.items() if self.statuses.get(run_id) != status]
        self.statuses = statuses
        return [
            *(_event("run", run_id=run_id, status=statuses[run_id]) for run_id in changed),
            *(_event("epoch", run_id=row.run_id, epoch=row.epoch) for row in epochs),
            *(_event("frame", run_id=row.run_id, epoch=row.epoch, method=row.method) for row in frames),
        ]


def _event(name: str, **data: int | str) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=data)


@router.get("/events", response_class=EventSourceResponse)
async def events(
    request: Request, sessions: SessionsDep, settings: SettingsDep
) -> AsyncIterator[ServerSentEvent]:
    """Stream ``epoch``, ``frame`` and ``run`` events (JSON data) until the client goes away."""
    state = request.app.state
    state.event_streams += 1
    try:
        watcher = await anyio.to_thread.run_sync(StoreWatcher, sessions)
        yield ServerSentEvent(comment="ping")
        while not await request.is_disconnected():
            await anyio.sleep(settings.events_poll_seconds)
            for event in await anyio.to_thread.run_sync(watcher.poll):
                yield event
    finally:
        state.event_streams -= 1
