"""Running the API for real: uvicorn on a free 127.0.0.1 port, over a published snapshot.

`publish_sample` runs the real pipeline on the shared generated sample book;
when the pipeline does not yet publish the rules tables, it runs the real
rules stage (`rules.run.run_rules`) on that snapshot and adds its tables to
the run, exactly as the pipeline will.  `ApiServer` starts `create_app` under
uvicorn with one API key per role.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from etl import storage
from etl.pipeline import RunOptions, run_pipeline
from etl.task import CLUSTERED_LAYOUT
from etl.settings import REPO_ROOT
from server.app import create_app
from server.config import ServerConfig
from server.keys import ROLES, create_key
from server.store import Store

CONFIG_DIR = REPO_ROOT / "config"
RULES_TABLES = ("gold_risk_alerts", "gold_recommendations", "gold_rule_facts")


def add_rules_tables(data_dir: Path) -> None:
    """The rules stage's tables for the published run, when the pipeline did not write them."""
    snap = storage.open_snapshot(data_dir)
    if all(t in snap.tables("gold") for t in RULES_TABLES):
        return
    from datetime import date

    from rules.facts import SILVER_COLUMNS
    from rules.model import DEFAULT_RULES_DIR, load_rules
    from rules.run import run_rules
    from rules.schemas import to_arrow

    silver = {t: snap.read("silver", t) for t in SILVER_COLUMNS}
    out = run_rules(
        silver,
        snap.read("gold", "gold_customer_360_metrics"),
        snap.read("gold", "gold_customer_metric_history"),
        load_rules(DEFAULT_RULES_DIR),
        None,
        date.fromisoformat(snap.manifest["as_of"]),
        snap.run_id,
    )
    for name, frame in out.items():
        storage.write_parquet(to_arrow(name, frame), snap.table_path("gold", name))


def publish_sample(sample_bronze: Path, target: Path, as_of, run_id: str = "api-run", lz4_copies: bool = False) -> Path:
    """The sample published into `target`.  Its timeline and history are far below the rows above which
    the pipeline writes their LZ4 served copies (etl.clustered.IN_MEMORY_ROWS): `lz4_copies` writes them."""
    shutil.copytree(sample_bronze, target)
    with pytest.MonkeyPatch.context() as patch:
        if lz4_copies:
            patch.setitem(CLUSTERED_LAYOUT, "served_copy_above", 0)
        run_pipeline(RunOptions(data_dir=target, config_dir=CONFIG_DIR, as_of=as_of, run_id=run_id, backfill_months=2))
    add_rules_tables(target)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_config(**overrides: Any) -> ServerConfig:
    """The test servers' settings (plain logs, a quick snapshot watcher), validated like the file."""
    doc = ServerConfig(json_logs=False, snapshot_check_seconds=0.2).model_dump()
    doc.update({k: v.model_dump() if hasattr(v, "model_dump") else v for k, v in overrides.items()})
    return ServerConfig.model_validate(doc)


@dataclass
class ApiServer:
    data_dir: Path
    config: ServerConfig = field(default_factory=server_config)
    environ: dict[str, str] = field(default_factory=dict)
    salesforce: Any = None
    keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        store = Store.open(self.data_dir, self.config.state_dir)
        try:
            for role in ROLES:
                self.keys[role], _ = create_key(store, role, f"test-{role}")
        finally:
            store.close()
        self.app = create_app(self.data_dir, CONFIG_DIR, config=self.config, environ=self.environ, salesforce=self.salesforce)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self):
        return self.app.state.services

    def __enter__(self) -> ApiServer:  # noqa: PYI034
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        self.client = httpx.Client(base_url=self.base_url, timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def headers(self, role: str | None = "admin") -> dict[str, str]:
        return {} if role is None else {"X-API-Key": self.keys[role]}

    def post(self, query: str, role: str | None = "admin", **variables: Any) -> httpx.Response:
        return self.client.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers(role))

    def gql(self, query: str, role: str | None = "admin", **variables: Any) -> dict[str, Any]:
        resp = self.post(query, role, **variables)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def get(self, path: str, role: str | None = "admin", **params: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(role), params=params)
