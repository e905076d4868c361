"""Benchmarks (issue 6): our crawl against GNU wget on the same static replica site served by nginx."""
