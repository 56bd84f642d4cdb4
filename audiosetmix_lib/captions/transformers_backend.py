"""A local `transformers` causal LM (any Hub id or path), batched, with the tokenizer's chat template.

The model loads on first use in each process (the object pickles to its settings only, so
`--num_proc` workers each load their own). Prompts are rendered with the tokenizer's chat
template where it has one (a template that refuses a system turn gets the rules folded into
the first user turn); otherwise as plain "Role: text" turns, in which case the answer is cut at
its first line break, since a base model does not know where the assistant's turn ends.
Sampling draws from a forked torch RNG seeded from the batch, so it leaves global state alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .backend import BackendError, Request, TransportFailure

DTYPES = ("auto", "float32", "bfloat16", "float16")


def plain_prompt(messages: list[dict]) -> str:
    turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(turns) + "\n\nAssistant:"


def _fold_system(messages: list[dict]) -> list[dict]:
    if not messages or messages[0]["role"] != "system":
        return messages
    rest = [dict(m) for m in messages[1:]]
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = messages[0]["content"] + "\n\n" + rest[0]["content"]
    return rest


@dataclass
class TransformersBackend:
    model: str
    device: str | None = None  # "cpu", "cuda", "cuda:1", ...; None: cuda if available
    dtype: str = "auto"
    batch_size: int = 8

    name = "transformers"

    def __post_init__(self) -> None:
        if not self.model:
            raise BackendError("the transformers captioner needs --llm_model ID_OR_PATH")
        if self.dtype not in DTYPES:
            raise BackendError(f"--llm_dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        self._loaded = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_loaded"] = None
        return state

    def load(self):
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = "auto" if self.dtype == "auto" else getattr(torch, self.dtype)
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model)
                model = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype)
            except (OSError, ValueError) as error:
                raise BackendError(f"cannot load the transformers model {self.model!r}: {error}") from None
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            model.to(device).eval()
            self._loaded = (tokenizer, model, torch.device(device))
        return self._loaded

    def has_chat_template(self) -> bool:
        tokenizer = self.load()[0]
        return bool(getattr(tokenizer, "chat_template", None))

    def render(self, messages: list[dict]) -> str:
        tokenizer = self.load()[0]
        if not self.has_chat_template():
            return plain_prompt(messages)
        try:
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception:  # noqa: BLE001 - templates raise their own errors for a system turn
            return tokenizer.apply_chat_template(_fold_system(messages), add_generation_prompt=True, tokenize=False)

    def _generate_batch(self, requests: list[Request]) -> list[str]:
        import torch

        tokenizer, model, device = self.load()
        chat = self.has_chat_template()
        texts = [self.render(r.messages) for r in requests]
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat)
        inputs = {"input_ids": encoded["input_ids"].to(device), "attention_mask": encoded["attention_mask"].to(device)}
        s = requests[0].sampling
        kwargs = {"max_new_tokens": s.max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
        if s.temperature > 0:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        else:
            kwargs.update(do_sample=False)
        seed = int.from_bytes(hashlib.sha256("\x00".join(texts + [str(s.seed)]).encode()).digest()[:4], "big")
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            output = model.generate(**inputs, **kwargs)
        new = output[:, inputs["input_ids"].shape[1]:]
        answers = [a.strip() for a in tokenizer.batch_decode(new, skip_special_tokens=True)]
        if not chat:
            answers = [a.split("\n", 1)[0].strip() for a in answers]
        return answers

    def take_endpoint_stats(self) -> dict:
        return {}  # one in-process model: no endpoints to count

    def close(self) -> None:
        pass  # the model is freed with the backend

    def generate(self, requests: list[Request]) -> list[str | TransportFailure]:
        """Batches of `batch_size`, grouped by sampling parameters (one `generate` call each)."""
        out: list[str | TransportFailure | None] = [None] * len(requests)
        groups: dict = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.sampling, []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), max(1, self.batch_size)):
                part = indices[start:start + self.batch_size]
                for i, answer in zip(part, self._generate_batch([requests[i] for i in part]), strict=True):
                    out[i] = answer
        return out
