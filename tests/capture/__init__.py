"""Tests of WARC capture: the faithful download handler and the capture and metadata middlewares."""
