"""Where a data directory lives: a local path, or an fsspec URL (``memory://``,
``s3://bucket/prefix``, ...) with the same layout.

A location is a `Path` when local and a URL string otherwise.  Local paths
take the fast path (pathlib, os, pyarrow's own file access), exactly as
before; URLs go through fsspec, and pyarrow reads and writes them through the
fsspec filesystem.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import IO

Location = Path | str


def as_location(value: str | os.PathLike) -> Location:
    """A URL stays a string (``file://`` becomes a local path); anything else is a Path."""
    s = os.fspath(value)
    if s.startswith("file://"):
        return Path(s[len("file://"):])
    return s if "://" in s else Path(s)


def is_remote(loc: Location | os.PathLike) -> bool:
    return isinstance(as_location(loc), str)


def is_process_local(loc: Location | os.PathLike) -> bool:
    """Filesystems only this process can see (another process or worker cannot reach them)."""
    return is_remote(loc) and os.fspath(loc).startswith("memory://")


def join(loc: Location, *parts: str) -> Location:
    loc = as_location(loc)
    if isinstance(loc, Path):
        return loc.joinpath(*parts)
    return "/".join([loc.rstrip("/"), *parts])


def name(loc: Location) -> str:
    loc = as_location(loc)
    return loc.name if isinstance(loc, Path) else PurePosixPath(loc.split("://", 1)[1]).name


def fs_path(loc: Location):
    """(fsspec filesystem, path in it) of a URL; (None, str path) of a local path."""
    loc = as_location(loc)
    if isinstance(loc, Path):
        return None, os.fspath(loc)
    import fsspec

    return fsspec.core.url_to_fs(loc)


def exists(loc: Location) -> bool:
    loc = as_location(loc)
    if isinstance(loc, Path):
        return loc.exists()
    fs, path = fs_path(loc)
    return fs.exists(path)


def is_dir(loc: Location) -> bool:
    loc = as_location(loc)
    if isinstance(loc, Path):
        return loc.is_dir()
    fs, path = fs_path(loc)
    return fs.isdir(path)


def makedirs(loc: Location) -> None:
    loc = as_location(loc)
    if isinstance(loc, Path):
        loc.mkdir(parents=True, exist_ok=True)
    else:
        fs, path = fs_path(loc)
        fs.makedirs(path, exist_ok=True)


def remove_tree(loc: Location) -> None:
    """Delete a directory (prefix) and everything under it; nothing if it is not there."""
    loc = as_location(loc)
    if isinstance(loc, Path):
        shutil.rmtree(loc, ignore_errors=True)
        return
    fs, path = fs_path(loc)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def remove(loc: Location) -> None:
    loc = as_location(loc)
    if isinstance(loc, Path):
        os.remove(loc)
    else:
        fs, path = fs_path(loc)
        fs.rm(path)


def list_names(loc: Location) -> list[str]:
    """Names directly under a directory, sorted; empty when it is not there."""
    loc = as_location(loc)
    if isinstance(loc, Path):
        return sorted(p.name for p in loc.iterdir()) if loc.is_dir() else []
    fs, path = fs_path(loc)
    if not fs.isdir(path):
        return []
    return sorted(PurePosixPath(p).name for p in fs.ls(path, detail=False))


def files_under(loc: Location) -> list[tuple[Location, tuple[str, ...]]]:
    """Every file below a directory with its path relative to it, sorted by location."""
    loc = as_location(loc)
    if isinstance(loc, Path):
        if not loc.is_dir():
            return []
        return sorted((p, p.relative_to(loc).parts) for p in loc.rglob("*") if p.is_file())
    fs, path = fs_path(loc)
    if not fs.isdir(path):
        return []
    root = PurePosixPath(path)
    out = [(join(loc, *PurePosixPath(f).relative_to(root).parts), PurePosixPath(f).relative_to(root).parts)
           for f in fs.find(path)]
    return sorted(out, key=lambda item: item[1])


def open_input(loc: Location) -> IO[bytes]:
    loc = as_location(loc)
    if isinstance(loc, Path):
        return open(loc, "rb")
    fs, path = fs_path(loc)
    return fs.open(path, "rb")


def read_text(loc: Location) -> str:
    loc = as_location(loc)
    if isinstance(loc, Path):
        return loc.read_text(encoding="utf-8")
    fs, path = fs_path(loc)
    return fs.cat_file(path).decode("utf-8")


def write_text(loc: Location, text: str) -> None:
    """A small file written whole (an object store replaces an object atomically); local
    callers that need a crash-safe replace use `etl.storage.atomic_write_text`."""
    loc = as_location(loc)
    if isinstance(loc, Path):
        loc.write_text(text, encoding="utf-8")
        return
    fs, path = fs_path(loc)
    fs.pipe_file(path, text.encode("utf-8"))


def upload_tree(local: Path, loc: Location) -> list[str]:
    """Copy every file under a local directory to the same relative paths under ``loc``."""
    fs, path = fs_path(loc)
    copied = []
    for f in sorted(p for p in local.rglob("*") if p.is_file()):
        rel = f.relative_to(local).as_posix()
        fs.put_file(os.fspath(f), f"{path.rstrip('/')}/{rel}")
        copied.append(rel)
    return copied
