"""The one exception the evaluation code raises for bad input; its command lines print it as `error: ...`."""


class EvaluationError(ValueError):
    """A model, dataset or option the evaluation cannot use; the message says what to change."""
