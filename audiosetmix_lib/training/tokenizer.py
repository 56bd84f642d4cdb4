"""The tiny model's tokenizer: byte-level BPE trained offline on the dataset's own text.

Trained on captions *and* hard negatives *and* label captions, so one vocabulary serves
both arms of the caption-vs-labels experiment (`--tokenizer_only` once, then `--tokenizer`
in each run). Built with `vocab=` / `merges=` rather than files: in transformers 5,
`RobertaTokenizer(vocab_file=..., merges_file=...)` can silently end up with a 5-token
vocabulary (docs/training.md).
"""

from __future__ import annotations

import json
from typing import Iterable

# Roberta order: pad=1, bos=0, eos=2 are ClapTextConfig's defaults.
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_max_length: int):
    """A `RobertaTokenizer` (tokenizers backend) whose vocabulary is learnt from `texts`.

    Deterministic: the texts are de-duplicated and sorted before training.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import RobertaTokenizer

    corpus = sorted({t for t in texts if t})
    if not corpus:
        raise ValueError("no text to train the tokenizer on")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer, length=len(corpus))
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokenizer = RobertaTokenizer(vocab=dict(model["vocab"]), merges=merges, model_max_length=model_max_length)
    if len(tokenizer) != bpe.get_vocab_size():
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, the trained model {bpe.get_vocab_size()}")
    return tokenizer


def load_tokenizer(path: str, model_max_length: int | None = None):
    """A tokenizer saved by `--tokenizer_only` (or any `save_pretrained` tokenizer folder)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if model_max_length is not None:
        tokenizer.model_max_length = model_max_length
    if len(tokenizer) <= len(SPECIAL_TOKENS):
        raise ValueError(f"{path}: tokenizer has only {len(tokenizer)} tokens")
    return tokenizer
