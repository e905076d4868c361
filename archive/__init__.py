"""WARC/1.1 library and the ``archive`` command; plain Python, no Scrapy import."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("archival-crawler")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
