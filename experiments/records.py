"""What keeps a run folder trustworthy: its JSON records read with errors that name the file, and one
process at a time (a lock that dies with its process). Checkpoints and the callbacks that travel in
them: `nngraph.lightning`."""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from nngraph.datasets.shards import atomic_write_bytes, read_json

LOCK = ".lock"


def read_record(path: Path) -> dict:
    """A run's JSON record (``run.json``, ``result.json``); ValueError naming the file if it is not one."""
    return read_json(path, "a run record", advice="; delete it to redo the run")


def write_record(path: Path, record: dict) -> None:
    atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())


class InUse(ValueError):
    """A run folder another process holds: the run is theirs while they live."""


def lock_folder(out: Path):
    """Hold ``out/.lock`` for the life of this process (the OS releases it when the process dies,
    however it dies); `InUse` naming the holder's pid if another process holds it. Returns the
    open file, which must be kept (``with lock_folder(out):`` holds it for the block)."""
    out.mkdir(parents=True, exist_ok=True)
    f = open(out / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise InUse(f"out: {out} is in use by process {holder} (one run per folder at a time)") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
