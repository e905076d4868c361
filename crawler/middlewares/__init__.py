"""Downloader middlewares: defences and WARC capture."""
