"""The caption audit page: listen, look at the spectrogram with the recipe's event spans, and
judge each caption and hard negative; judgements stay in the browser and export as JSON,
which `summary.summarize` turns into accuracy per caption source, modifier and negative kind.

Modules: `page` (pure: rows -> HTML), `spectrogram` (PNG with event spans), `summary` (pure:
export -> accuracies), `cli` (the `audiosetmix.py audit` command: files in, files out).
"""
