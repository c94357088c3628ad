"""Reading the user's input files and checking output paths, for the CLI.

- ``read_file``: a file's bytes, read **once** (a named pipe or ``/dev/stdin`` cannot be opened a
  second time: the second open hangs or reads nothing) and never more than a byte cap.
- ``check_writable``: whether an output path can be written, checked *before* the work (a fit takes
  minutes; it should not fail at the end because ``-o`` names a folder).

Both raise ``InputError`` with one line naming the file.
"""

from __future__ import annotations

import os

from cptcore.errors import InputError


def read_file(path: str, limit: int, fix: str = "Check the path") -> bytes:
    """The bytes of ``path`` (at most ``limit``; more is refused as 'file too large')."""
    name = os.path.basename(str(path))
    try:
        size = os.path.getsize(path)  # 0 for pipes: their length is only known once read
    except OSError as e:
        raise InputError(
            "cannot open the file", source=str(path), received=e.strerror, fix="Check the path"
        ) from None
    too_large = InputError(
        "file too large",
        source=name,
        received=f"{max(size, limit + 1) / 1e6:.0f} MB",
        fix=fix,
    )
    if size > limit:  # refused from its size alone, nothing is read
        raise too_large
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:  # a folder, a permission problem
        raise InputError(
            "cannot read the file", source=name, received=e.strerror, fix="Check the path"
        ) from None
    if len(data) > limit:  # a pipe longer than the cap
        raise too_large
    return data


def check_writable(path: str) -> None:
    """``InputError`` unless ``path`` can be written as an output file: not a folder, inside an
    existing folder, and writable. Nothing is created."""
    shown = str(path)
    fix = "Give a file path in an existing folder you can write to"
    if not shown:
        raise InputError("no output file name given", fix=fix)
    if os.path.isdir(path):
        raise InputError("cannot write the output: this is a folder", source=shown, fix=fix)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(
            "cannot write the output: its folder does not exist",
            source=shown,
            received=folder,
            fix="Create the folder first, or choose another path",
        )
    target = path if os.path.exists(path) else folder
    if not os.access(target, os.W_OK):
        raise InputError("cannot write the output: permission denied", source=shown, fix=fix)
