"""Whole read responses, cached with aiocache.

A key is the hash of (what was asked - the GraphQL query, variables and
operation name, or the REST path and query string - the caller's role, and
the snapshot's run id), so a new snapshot never serves an old answer.  Each
entry is tagged with the customers its response read; a mutation drops the
entries of the customers it touched plus every entry that read across the
book (lists, search, dashboard).  Entries expire after ``ttl_seconds``; at
most ``max_entries`` are kept (oldest dropped first).  Only responses
without errors are cached.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from typing import Any

from aiocache import SimpleMemoryCache

from server.config import CacheConfig
from server.observability import Metrics

GLOBAL = "*"


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


class ResponseCache:
    def __init__(self, config: CacheConfig, metrics: Metrics):
        self.enabled = config.enabled and config.ttl_seconds > 0
        self.ttl = config.ttl_seconds
        self.max_entries = config.max_entries
        self.metrics = metrics
        # No per-call timeout: aiocache enforces one with asyncio.wait_for, a new task for every get (tens of
        # microseconds on a cache hit), and a dict lookup cannot hang.
        self._cache = SimpleMemoryCache(timeout=None)
        self._tags: dict[str, set[str]] = defaultdict(set)  # tag -> keys
        self._entries: OrderedDict[str, tuple[str, ...]] = OrderedDict()  # key -> its tags, oldest first
        # Bumped by every invalidation: a response computed before one must not be cached after it.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        if not self.enabled:
            return None
        value = await self._cache.get(key)
        if value is None:
            self.metrics.inc("cache_misses")
            self._forget(key)
        else:
            self.metrics.inc("cache_hits")
        return value

    async def put(self, key: str, body: bytes, accounts: set[str] | None, generation: int) -> None:
        """Cache `body` (computed when `generation` was current); `accounts` None means it read across the book."""
        if not self.enabled or generation != self.generation:
            return
        tags = (GLOBAL,) if accounts is None else tuple(sorted(accounts))
        await self._cache.set(key, body, ttl=self.ttl)
        self._forget(key)
        self._entries[key] = tags
        for t in tags:
            self._tags[t].add(key)
        while len(self._entries) > self.max_entries:
            old, _ = next(iter(self._entries.items()))
            await self._drop(old)

    def _forget(self, key: str) -> None:
        tags = self._entries.pop(key, None)
        for t in tags or ():
            keys = self._tags.get(t)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[t]

    async def _drop(self, key: str) -> None:
        self._forget(key)
        await self._cache.delete(key)

    async def invalidate(self, account_ids: tuple[str, ...] | list[str]) -> int:
        """Drop what read these customers, and everything that read across the book."""
        self.generation += 1
        keys: set[str] = set(self._tags.get(GLOBAL, ()))
        for a in account_ids:
            keys |= self._tags.get(a, set())
        for k in keys:
            await self._drop(k)
        if keys:
            self.metrics.inc("cache_invalidations", len(keys))
        return len(keys)

    async def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._tags.clear()
        await self._cache.clear()
