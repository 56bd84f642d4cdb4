"""`consistency`: how alike K sampled LLM runs caption the same recipes (facts, agreement, wording)."""
