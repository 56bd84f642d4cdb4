"""CLAP training on AudioSetMix: arguments, data pipeline, log-mel features, loss, model, loop.

`train_clap.py` at the repository root is a thin entry point over `cli.main` (`python -m
audiosetmix_lib.training.cli` runs the same program), which runs `loop.train`.
"""
