"""`c360 api-key ...` and `c360 links export`: the server's commands.

Register in etl/cli.py with::

    from server.cli import api_key_app, links_app
    app.add_typer(api_key_app, name="api-key")
    app.add_typer(links_app, name="links")

Until then they run as ``python -m server.cli api-key create --role admin``.
`api-key create` prints the new key alone on stdout (so a Makefile can
capture it) and a note on stderr; only the key's SHA-256 is stored, in the
state database under the data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from etl.cli_options import ConfigDir, DataDir
from etl.settings import Settings
from server.config import load_server_config
from server.keys import ROLES, create_key
from server.store import Store

api_key_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys (stored as SHA-256 hashes).")
links_app = typer.Typer(no_args_is_help=True, help="Manual account-link decisions made through the API.")



def _store(data_dir: Path | None, config_dir: Path | None) -> tuple[Store, Settings]:
    s = Settings.from_options(data_dir, config_dir)
    config = load_server_config(s.config_dir)
    return Store.open(s.data_dir, config.state_dir), s


@api_key_app.command("create")
def api_key_create(
    role: Annotated[str, typer.Option(help="viewer (queries), operator (+ mutations), admin (+ manual linking, audit log)")],
    name: Annotated[str, typer.Option(help="Who or what uses the key; shown in the audit log")] = "local",
    data_dir: DataDir = None,
    config_dir: ConfigDir = None,
) -> None:
    """Make a new API key and print it once; only its hash is kept."""
    if role not in ROLES:
        raise typer.BadParameter(f"must be one of {', '.join(ROLES)}", param_hint="--role")
    store, _ = _store(data_dir, config_dir)
    try:
        key, key_id = create_key(store, role, name)
    finally:
        store.close()
    Console(stderr=True).print(f"API key {key_id} ({role}, {name!r}) created; it is shown once - send it as the X-API-Key header:")
    typer.echo(key)


@api_key_app.command("list")
def api_key_list(data_dir: DataDir = None, config_dir: ConfigDir = None) -> None:
    """The keys in the state database (ids and roles, never the keys)."""
    store, _ = _store(data_dir, config_dir)
    try:
        rows = store.api_keys()
    finally:
        store.close()
    table = Table("id", "name", "role", "created", "revoked")
    for r in rows:
        table.add_row(r["key_id"], r["name"], r["role"], r["created_at"][:19], (r["revoked_at"] or "")[:19])
    Console().print(table)


@api_key_app.command("revoke")
def api_key_revoke(key_id: Annotated[str, typer.Argument(help="The key's id from `c360 api-key list`")], data_dir: DataDir = None,
                   config_dir: ConfigDir = None) -> None:
    """Revoke a key (takes effect within seconds in a running server)."""
    store, _ = _store(data_dir, config_dir)
    try:
        done = store.revoke_api_key(key_id)
    finally:
        store.close()
    if not done:
        raise typer.BadParameter(f"no active key {key_id}", param_hint="KEY_ID")
    Console().print(f"revoked {key_id}")


@links_app.command("export")
def links_export(
    output: Annotated[Path | None, typer.Option(help="Where to write [default: CONFIG_DIR/manual_account_linkages.json]")] = None,
    data_dir: DataDir = None,
    config_dir: ConfigDir = None,
) -> None:
    """Merge the API's link decisions into manual_account_linkages.json for the linker's next run."""
    from server.links import export_manual_linkages

    store, s = _store(data_dir, config_dir)
    try:
        target, doc = export_manual_linkages(store, s.config_dir, output)
    finally:
        store.close()
    Console().print(f"wrote {target}: {len(doc.must_link)} must-link, {len(doc.must_not_link)} must-not-link")


cli = typer.Typer(no_args_is_help=True, add_completion=False)
cli.add_typer(api_key_app, name="api-key")
cli.add_typer(links_app, name="links")

if __name__ == "__main__":
    cli()
