"""CLAP training on AudioSetMix: arguments, data pipeline, log-mel features, loss, model, loop.

`train_clap.py` at the repository root is a thin entry point over `loop.train`.
"""
