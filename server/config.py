"""The API server's settings: the validated model of ``config/server.json``.

Non-secret and versioned; any key can be overridden from the environment as
``C360_SERVER__<SECTION>__<KEY>=<JSON value>`` (``C360_SERVER__CACHE__TTL_SECONDS=5``),
through `etl.settings.load_config`.  Secrets never live here: API keys are
stored as SHA-256 hashes in the state database (``c360 api-key create``), in
``C360_API_KEYS`` or in the file named by ``C360_API_KEYS_FILE`` (see
`server.keys`); Salesforce credentials come from ``C360_SF_*`` (see
`etl.extract.credentials`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from etl.clustered import IN_MEMORY_ROWS
from etl.settings import load_config

SERVER_FILE = "server.json"

Role = Literal["viewer", "operator", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Strict):
    anonymous_role: Role | None = Field(
        default=None,
        description="role of a request without X-API-Key; null refuses it (401). Only for a trusted local network.",
    )


class LimitsConfig(_Strict):
    max_query_depth: int = Field(default=10, ge=2, le=50)
    max_aliases: int = Field(default=30, ge=1, le=1000)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    max_page_size: int = Field(default=200, ge=1, le=5000, description="largest `first` of any list or connection")
    max_body_bytes: int = Field(default=65_536, ge=1024, le=10_000_000, description="request bodies above this get 413")
    body_timeout_seconds: float = Field(default=10.0, gt=0, le=600,
                                        description="the whole request body must arrive within this; a slower client gets 408")
    query_timeout_seconds: float = Field(default=30.0, gt=0, le=3600,
                                         description="a query (GraphQL or REST GET) still waiting after this is cancelled with 504; "
                                                     "mutations run to the end once their body is read")


class GraphQLConfig(_Strict):
    graphiql: bool = True
    introspection: bool = True


class CorsConfig(_Strict):
    allow_origins: list[str] = Field(default_factory=list, description="exact origins, e.g. http://localhost:5173; empty: no CORS")
    max_age_seconds: int = Field(default=600, ge=0, le=86_400)


class CacheConfig(_Strict):
    enabled: bool = True
    ttl_seconds: float = Field(default=300.0, ge=0, le=86_400, description="5 minutes: a new snapshot or a mutation drops entries sooner")
    max_entries: int = Field(default=5000, ge=10, le=1_000_000)


class WriteBackConfig(_Strict):
    """executeAction writes a Task to Salesforce through a durable outbox."""

    enabled: bool = Field(default=True, description="off: actions are recorded only; on: written back when C360_SF_* credentials exist")
    task_status: str = "Not Started"
    task_priority: str = "Normal"
    due_in_days: int = Field(default=7, ge=0, le=365)
    poll_seconds: float = Field(default=5.0, gt=0, le=3600, description="how often the outbox worker looks for due entries")
    retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    retry_max_seconds: float = Field(default=900.0, gt=0, le=86_400)
    attempt_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    lease_seconds: float = Field(default=120.0, gt=0, le=3600, description="an entry being sent is not picked up by another worker for this long")


class ServerConfig(_Strict):
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    graphql: GraphQLConfig = GraphQLConfig()
    cors: CorsConfig = CorsConfig()
    cache: CacheConfig = CacheConfig()
    write_back: WriteBackConfig = WriteBackConfig()
    state_dir: str = Field(default="state", description="directory of the state database, relative to the data directory")
    snapshot_check_seconds: float = Field(default=2.0, gt=0, le=3600)
    snapshot_in_memory_rows: int = Field(
        default=IN_MEMORY_ROWS, ge=0,
        description="the timeline or history is held in memory up to this many rows, else read per account from its "
                    "served copy, which the pipeline writes only above the default, or else from its Parquet file",
    )
    client_dist: str = Field(default="client/dist", description="built client to serve at /, relative to the repository")
    json_logs: bool = True
    access_log: bool = Field(default=True, description="one log line a request (logger c360.access), with its request id")


def load_server_config(config_dir: Path, environ: dict[str, str] | None = None) -> ServerConfig:
    """config/server.json, validated; a missing file means every default."""
    path = Path(config_dir) / SERVER_FILE
    if not path.exists():
        return ServerConfig()
    return load_config(path, ServerConfig, environ=environ)
