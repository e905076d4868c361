"""Scrapy commands of our own (``COMMANDS_MODULE``)."""
