"""Where a run's partition tasks execute.

    local, 1 worker    in the pipeline's own process, one partition after another
    local, N workers   a pool of N processes on this machine
    dask               a Dask distributed cluster: a running scheduler
                       (``--scheduler tcp://HOST:PORT``) or a LocalCluster of
                       N single-threaded worker processes started for the run

Every engine runs the same task function (`etl.task`) and hands its outputs
back in partition order, each as soon as it and every partition before it
are done.  The first task seen to fail cancels the others and its exception
is raised in the driver, which then publishes nothing.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from etl.errors import EngineError

ENGINES = ("local", "dask")
SCHEDULER_SCHEMES = ("tcp", "tls")


@dataclass(frozen=True)
class EngineSpec:
    """Which engine runs the partitions; invalid combinations are refused here (ValueError)."""

    kind: str = "local"
    workers: int | None = None  # local: processes (default 1); dask: workers of a LocalCluster
    scheduler: str | None = None  # dask: address of a running scheduler instead
    connect_timeout: float = 10.0  # seconds to reach that scheduler

    def __post_init__(self) -> None:
        if self.kind not in ENGINES:
            raise ValueError(f"unknown engine {self.kind!r}; supported: {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be at least 1 (got {self.workers})")
        if self.scheduler is not None:
            if self.kind != "dask":
                raise ValueError("--scheduler needs --engine dask")
            if self.workers is not None:
                raise ValueError("give either --scheduler (a running Dask cluster) or --workers (a local one), not both")
            scheme, sep, rest = self.scheduler.partition("://")
            host, _, port = rest.rpartition(":")
            if not sep or scheme not in SCHEDULER_SCHEMES or not host or not port.isdigit():
                raise ValueError(f"--scheduler {self.scheduler!r} is not a scheduler address like tcp://HOST:PORT")
        elif self.kind == "dask" and self.workers is None:
            raise ValueError("--engine dask needs --scheduler tcp://HOST:PORT or --workers N (a local cluster)")

    @property
    def in_process(self) -> bool:
        """Today's serial loop: tables stay in memory, no part files."""
        return self.kind == "local" and (self.workers or 1) == 1

    def describe(self) -> dict[str, object]:
        return {"engine": self.kind, "workers": self.workers or (None if self.scheduler else 1), "scheduler": self.scheduler}


Task = Any
Result = Any


class InProcess:
    """One partition after another in this process: memory is bounded by one partition."""

    def map(self, fn: Callable[[Task], Result], tasks: Sequence[Task]) -> Iterator[Result]:
        for task in tasks:
            yield fn(task)


class ProcessPool:
    """N worker processes on this machine (spawned: no fork of a process that runs Arrow threads)."""

    def __init__(self, workers: int):
        self.workers = workers

    def map(self, fn: Callable[[Task], Result], tasks: Sequence[Task]) -> Iterator[Result]:
        pool = cf.ProcessPoolExecutor(min(self.workers, len(tasks)) or 1, mp_context=multiprocessing.get_context("spawn"))
        futures = [pool.submit(fn, t) for t in tasks]
        try:
            yield from _in_order(
                futures,
                wait_first=lambda fs: cf.wait(fs, return_when=cf.FIRST_COMPLETED),
                failed=lambda f: f.exception() is not None,
            )
        finally:
            # tasks still running finish (a process cannot be interrupted safely) before
            # the driver deletes the run's work directory; queued ones never start
            pool.shutdown(wait=True, cancel_futures=True)


class DaskEngine:
    """Tasks on a Dask distributed cluster; workers must see the run's directories and import `etl`."""

    def __init__(self, client):
        self.client = client

    def map(self, fn: Callable[[Task], Result], tasks: Sequence[Task]) -> Iterator[Result]:
        import distributed

        # a unique key per submission: never the result of an abandoned run's task with the same id
        futures = [self.client.submit(fn, t, key=f"c360-partition-{i:05d}-{uuid.uuid4().hex}", pure=False)
                   for i, t in enumerate(tasks)]
        try:
            yield from _in_order(
                futures,
                wait_first=lambda fs: distributed.wait(fs, return_when="FIRST_COMPLETED"),
                failed=lambda f: f.status == "error",
            )
        finally:
            left = [f for f in futures if f is not None]
            if left:
                self.client.cancel(left)


def _in_order(futures: list, wait_first: Callable[[list], object], failed: Callable[[Any], bool]) -> Iterator[Result]:
    """Results of ``futures`` in list order as they become available; the first failure
    seen in any of them is raised at once, not when its turn comes.

    A yielded future is dropped from the list, so its result can be freed.
    """
    for i in range(len(futures)):
        while not futures[i].done():
            wait_first([f for f in futures[i:] if not f.done()])
            for f in futures[i + 1:]:
                if f.done() and failed(f):
                    f.result()  # raises the task's exception
        result = futures[i].result()
        futures[i] = None
        yield result


@contextmanager
def open_engine(spec: EngineSpec) -> Iterator[InProcess | ProcessPool | DaskEngine]:
    """The engine for a run; a Dask cluster is reached (or started) here, before the run writes anything."""
    if spec.kind == "local":
        yield InProcess() if spec.in_process else ProcessPool(spec.workers or 1)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise EngineError(f"--engine dask needs Dask distributed: pip install 'customer360[dask]' ({exc})") from None
    if spec.scheduler:
        try:
            client = Client(spec.scheduler, timeout=spec.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"cannot reach the Dask scheduler at {spec.scheduler}: {exc}") from None
        with client:
            yield DaskEngine(client)
        return
    cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    with cluster, Client(cluster) as client:
        yield DaskEngine(client)
