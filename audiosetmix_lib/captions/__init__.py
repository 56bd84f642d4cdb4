"""Captioners: the offline template grammar (default) and, later, LLM backends."""
