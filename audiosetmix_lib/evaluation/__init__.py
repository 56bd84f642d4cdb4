"""Evaluating CLAP models on AudioSetMix: retrieval and modifier accuracy (`evaluate_clap`), the
counterfactual-audio probe (`probe_counterfactual`), the loss terms of trained models
(`objective_terms`) and the whole baseline-vs-AudioSetMix experiment (`run_experiment`).
The scripts in `eval/` are thin command lines over these modules."""
