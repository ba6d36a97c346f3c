"""The one error type for bad training-dynamic folders."""

from __future__ import annotations

import os


class DynamicsError(ValueError):
    """A file of a training-dynamic folder is missing, unreadable or malformed.

    The message always names the offending file and what was expected, e.g.
    ``run/dataset/representation/3.npy: expected 1797 rows (samples), found 1700``.

    Args:
        path: the file or folder at fault (str or os.PathLike).
        expected: what a valid file would hold, in words.
        found: what was found instead (optional).
    """

    def __init__(self, path: str | os.PathLike, expected: str, found: str | None = None):
        self.path = os.fspath(path)
        self.expected = expected
        self.found = found
        msg = f"{self.path}: expected {expected}"
        if found:
            msg += f", found {found}"
        super().__init__(msg)
