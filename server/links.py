"""Manual link decisions made through the API, as the linker's config file.

`manual_linkages_document` merges the active decisions in the state store
into the current ``config/manual_account_linkages.json``: a pair decided
through the API replaces whatever the file said about that pair (the newer
decision wins); every other entry of the file is kept as it was.  The
result validates as `etl.linking.config.ManualLinkages` (no pair both
must-link and must-not-link, no account linked to itself).
"""

from __future__ import annotations

import json
from pathlib import Path

from etl.linking.config import MANUAL_FILE, ManualLinkages, load_manual_linkages, merge_manual_decisions
from server.store import Store


def manual_linkages_document(store: Store, existing: ManualLinkages | None) -> ManualLinkages:
    decisions = [(d.account_a, d.account_b, d.decision, d.reason, d.author, d.at.date()) for d in store.link_decisions(active_only=True)]
    return merge_manual_decisions(existing, decisions)


def export_manual_linkages(store: Store, config_dir: Path, output: Path | None = None) -> tuple[Path, ManualLinkages]:
    """Write the merged decisions (default: over config_dir's manual_account_linkages.json); re-read to validate."""
    from etl.storage import atomic_write_text

    source = Path(config_dir) / MANUAL_FILE
    existing = load_manual_linkages(source) if source.exists() else None
    doc = manual_linkages_document(store, existing)
    target = Path(output) if output else source
    atomic_write_text(target, json.dumps(doc.model_dump(mode="json"), indent=2) + "\n")
    load_manual_linkages(target)  # the linker must be able to read what was written
    return target, doc
