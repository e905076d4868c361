"""Scrapy project: spiders, page functions, pipelines and WARC capture for 51credit and Sina Finance."""
