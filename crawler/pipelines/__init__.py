"""Item pipelines, one job each."""
