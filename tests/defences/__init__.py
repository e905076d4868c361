"""End-to-end and unit tests of crawler/middlewares/defences.py against the replica's defences."""
