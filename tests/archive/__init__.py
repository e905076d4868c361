"""Tests of the ``archive`` package (WARC writing, reading, checking, indexing, packaging)."""
