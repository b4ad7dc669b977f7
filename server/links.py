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

from etl.linking.config import (
    MANUAL_FILE,
    ManualLinkages,
    ManualPair,
    load_manual_linkages,
)
from server.store import Store


def manual_linkages_document(store: Store, existing: ManualLinkages | None) -> ManualLinkages:
    decided = {(d.account_a, d.account_b): d for d in store.link_decisions(active_only=True)}
    must: list[ManualPair] = []
    must_not: list[ManualPair] = []
    if existing is not None:
        must += [p for p in existing.must_link if p.key not in decided]
        must_not += [p for p in existing.must_not_link if p.key not in decided]
    for (a, b), d in decided.items():
        pair = ManualPair(account_a=a, account_b=b, reason=d.reason, author=d.author, date=d.at.date())
        (must if d.decision == "must_link" else must_not).append(pair)
    return ManualLinkages(must_link=must, must_not_link=must_not)


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
