"""Test suite: offline page tests, the replica site, end-to-end crawls."""
