"""Exceptions shared across the project's floors."""

from __future__ import annotations


class OutputError(OSError):
    """Writing an output failed (disk full, permissions); nothing partial was left behind."""


class RunLocked(RuntimeError):
    """Another run of the same spider holds the ``DATA_DIR`` lock."""
