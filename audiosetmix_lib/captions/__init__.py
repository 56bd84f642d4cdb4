"""Captioners: the offline template grammar (`template_captioner`, the default) and the LLM
captioner (`captioner`: prompt -> cache -> backend -> validator), both behind the `Captioner`
protocol of `sets`; `lexicon` and `validate` hold the words and the faithfulness check."""
