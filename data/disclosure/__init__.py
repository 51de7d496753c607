"""The parts of small-count suppression; ``data.privacy`` is the entry callers import."""
