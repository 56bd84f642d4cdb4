"""Evaluating CLAP models on AudioSetMix: retrieval, pairwise accuracy and the text, audio and group
scores on hard negatives (`evaluate_clap`, command line `clap_cli`), the paired and seed-level
differences of runs (`compare`, `seed_level`), the counterfactual-audio probe (`probe_counterfactual`),
the loss terms of trained models (`objective_terms`) and the whole baseline-vs-AudioSetMix experiment
(`run_experiment`, command line `experiment_cli`). docs/design.md lists the modules and their one job;
the scripts in `eval/` are thin command lines over them."""
