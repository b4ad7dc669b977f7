"""In-process publish/subscribe for GraphQL subscriptions.

Two kinds of event: a new snapshot was published (every customer may have
changed), or a mutation changed some alerts / recommendations / link
decisions of some customers.  Each subscriber has a bounded queue; a
subscriber that does not keep up loses its oldest events rather than
slowing the publisher (it is told via the ``dropped`` counter).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from server.store import utcnow


@dataclass(frozen=True)
class Event:
    reason: str  # SNAPSHOT / MUTATION
    kind: str  # snapshot / alert / recommendation / link
    run_id: str | None
    ids: tuple[str, ...] = ()
    account_ids: tuple[str, ...] = ()  # empty with reason SNAPSHOT: everyone
    operation: str | None = None
    at: datetime = field(default_factory=utcnow)


class Broker:
    def __init__(self, queue_size: int = 256):
        self.queue_size = queue_size
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self.dropped = 0
        self.published = 0

    def publish(self, event: Event) -> None:
        self.published += 1
        for q in list(self._subscribers):
            if q.full():
                q.get_nowait()
                self.dropped += 1
            q.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(self.queue_size)
        self._subscribers.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._subscribers.discard(q)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
