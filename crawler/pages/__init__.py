"""Pure extraction: responses in, items, links and drop reasons out."""
