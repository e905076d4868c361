"""Crawl state: SQLite by default, Redis when REDIS_URL is set."""
