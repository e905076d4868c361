"""WARC/1.1 library and the ``archive`` command; plain Python, no Scrapy import."""
