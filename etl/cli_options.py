"""Command-line options shared by every `c360` command, so they read and document alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the layers live [env C360_DATA_DIR; default ./data]", show_default=False),
]
ConfigDir = Annotated[
    Path | None,
    typer.Option("--config-dir", help="Directory of the JSON config files [env C360_CONFIG_DIR]", show_default=False),
]
