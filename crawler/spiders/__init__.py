"""Spiders: what to crawl, nothing else."""
