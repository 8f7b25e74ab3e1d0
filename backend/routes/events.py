"""``GET /api/events``: server-sent events when epochs or frames land and when runs change status.

One ``EventHub`` per app polls the store once every ``events_poll_seconds`` with three cheap
queries, however many streams are open: epochs past the last seen id, frames stored since the last
seen ``created_at`` (the projector rewrites a running run's PCA frames in place when it refits the
basis, with a new ``created_at``), and every run's status. It hands each poll's events to every
open stream, runs only while a stream is open, and each stream sees what changed after it
connected. FastAPI adds a ``: ping`` comment after 15 idle seconds; a client that disconnects ends
its stream within a poll interval. How many streams may be open is ``backend.guards.StreamLimit``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from backend.projections import RUN_FRAME
from store import Epoch, Projection, Run

router = APIRouter(tags=["events"])
log = logging.getLogger(__name__)

# polls a stream may fall behind before its oldest are dropped (a client that stopped reading)
BACKLOG_POLLS = 100


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
        new_frames = select(Projection.run_id, Projection.epoch, Projection.projection, Projection.created_at)
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
            *(_event("frame", run_id=row.run_id, epoch=row.epoch, projection=row.projection)
              for row in frames),
        ]


def _event(name: str, **data: int | str) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=data)


class EventHub:
    """One poller per app that fans each poll's events out to every open stream's queue."""

    def __init__(self, sessions: sessionmaker[Session], poll_seconds: float) -> None:
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.queues: set[asyncio.Queue[list[ServerSentEvent]]] = set()
        self.poller: asyncio.Task[None] | None = None
        self.watching: asyncio.Future[None] | None = None  # done once the poller has its baseline

    async def subscribe(self) -> asyncio.Queue[list[ServerSentEvent]]:
        """A queue that receives the events of every poll from now on (starts the poller if idle)."""
        queue: asyncio.Queue[list[ServerSentEvent]] = asyncio.Queue(BACKLOG_POLLS)
        self.queues.add(queue)
        loop = asyncio.get_running_loop()
        if self.poller is None or self.poller.done() or self.poller.get_loop() is not loop:
            self.watching = loop.create_future()
            self.poller = loop.create_task(self.poll_forever(self.watching), name="centerlens-events")
        try:
            await asyncio.shield(self.watching)
        except BaseException:
            self.unsubscribe(queue)
            raise
        return queue

    def unsubscribe(self, queue: asyncio.Queue[list[ServerSentEvent]]) -> None:
        """Stop feeding ``queue``; the poller stops with the last one."""
        self.queues.discard(queue)
        if not self.queues and self.poller is not None:
            self.poller.cancel()
            self.poller = None

    async def poll_forever(self, watching: asyncio.Future[None]) -> None:
        """Note what the store holds now, then every ``poll_seconds`` hand what changed to every queue."""
        try:
            watcher = await anyio.to_thread.run_sync(StoreWatcher, self.sessions)
        except asyncio.CancelledError:
            watching.cancel()
            raise
        except Exception as error:  # the database cannot be read: the waiting streams fail with it
            watching.set_exception(error)
            return
        watching.set_result(None)
        while True:
            await anyio.sleep(self.poll_seconds)
            try:
                events = await anyio.to_thread.run_sync(watcher.poll)
            except SQLAlchemyError as error:  # the database is away for a moment: try again next time
                log.warning("event poll failed: %s", str(error).splitlines()[0])
                continue
            if events:
                for queue in self.queues:
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(events)


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request) -> AsyncIterator[ServerSentEvent]:
    """Stream ``epoch``, ``frame`` and ``run`` events (JSON data) until the client goes away."""
    hub: EventHub = request.app.state.event_hub
    queue = await hub.subscribe()
    try:
        yield ServerSentEvent(comment="ping")
        while not await request.is_disconnected():
            with anyio.move_on_after(hub.poll_seconds):
                for event in await queue.get():
                    yield event
    finally:
        hub.unsubscribe(queue)
