"""Blob store on a local directory: temp file, fsync, rename (or link), fsync the dir.

Temp files live in one directory, ``{root}/.tmp/``, so that the ones a killed
process left behind are found without walking the store: opening the store
removes those older than a minute (a concurrent writer's file is younger).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sessionlens.stores.base import StoreError

TEMP_DIR = ".tmp"
# A put takes milliseconds; a temp file this old belongs to no live writer.
ORPHAN_AGE_SECONDS = 60.0


class LocalStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.temp_dir = self.root / TEMP_DIR
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.swept = sweep_orphans(self.temp_dir, ORPHAN_AGE_SECONDS)

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/") or "\\" in key:
            raise ValueError(f"invalid key {key!r}")
        return self.root / key

    def _durable_temp(self, data: bytes) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.temp_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._durable_temp(data)
            try:
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StoreError(f"local store could not write {key}: {exc.strerror or exc}") from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        # Moving a complete, fsynced temp file into place without replacing
        # (rename with RENAME_NOREPLACE, or link() where that is missing)
        # either creates the name atomically or fails with EEXIST: readers
        # never see a partial object and two writers cannot both win.
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._durable_temp(data)
            try:
                _move_no_replace(tmp, path)
            except FileExistsError:
                os.unlink(tmp)
                return False
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
            return True
        except OSError as exc:
            raise StoreError(f"local store could not write {key}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            raise StoreError(f"local store could not read {key}: {exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        # Walk only the directory the prefix points into, not the whole root.
        base_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base_dir if base_dir else self.root
        if not start.is_dir():
            return iter(())
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(".tmp-"):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for key in list(self.list(prefix)):
            self._path(key).unlink(missing_ok=True)
            count += 1
        return count


def sweep_orphans(temp_dir: Path, min_age_seconds: float) -> int:
    """Remove temp files older than min_age_seconds; returns how many."""
    cutoff = time.time() - min_age_seconds
    removed = 0
    for entry in os.scandir(temp_dir):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # another process swept it first
    return removed


def _load_renameat2() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return None
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2


_RENAMEAT2 = _load_renameat2() if sys.platform.startswith("linux") else None
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _move_no_replace(src: str, dst: Path) -> None:
    """Rename src to dst unless dst exists (FileExistsError); src is gone on success."""
    global _RENAMEAT2
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(err, os.strerror(err), str(dst))
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(dst))
        _RENAMEAT2 = None  # this filesystem or kernel cannot; link() can
    os.link(src, dst)
    os.unlink(src)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
