"""`audiosetmix verify`: every sampled row's claims measured from its sound; verify.json, verify.md, an exit code.

    audiosetmix verify --dataset_dir DIR [--split S] [--n N | --all] [--seed K] [--source_root R]
                       [--num_proc P] [--output_dir O]

Exit 0 when every checked claim holds, 1 when any fails, 2 for a usage error (one `error:` line).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

from ..audio_io import AudioReadError
from ..hub_layout import write_json
from ..provenance import mismatches_here
from ..recipe import Recipe
from ..stats_cli import DatasetError
from .claims import Claim
from .dataset import chosen_positions, iter_rows, reachable_source, split_shards
from .report import report_json, report_markdown, tally
from .row import RowResult, verify_row

DEFAULT_N = 100
_WORKER: dict = {}


def checked_row(row: dict, source) -> RowResult:
    """`verify_row`, with a source file that fails to load mid-run recorded as that row's failure."""
    try:
        return verify_row(row, source)
    except AudioReadError as error:
        claim = Claim("row", "rerender", "row", f"the source audio of the recipe loads ({error})", float("nan"), 0.0, "",
                      False)
        return RowResult(row["id"], [claim])


def _init_worker(source) -> None:
    _WORKER["source"] = source


def _worker_row(row: dict) -> RowResult:
    return checked_row(row, _WORKER["source"])


def run_rows(rows, source, num_proc: int, total: int, label: str = "verify") -> list[RowResult]:
    """Every row checked, in order, on `num_proc` processes, with a progress bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="row", desc=label, file=sys.stderr, disable=total == 0)
    results = []
    try:
        if num_proc <= 1:
            for row in rows:
                results.append(checked_row(row, source))
                bar.update()
            return results
        context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        with context.Pool(num_proc, initializer=_init_worker, initargs=(source,)) as pool:
            for result in pool.imap(_worker_row, rows, chunksize=4):
                results.append(result)
                bar.update()
        return results
    finally:
        bar.close()


def _first_recipe(shards: dict) -> str:
    for paths in shards.values():
        for row in iter_rows(paths, {0}):
            return row["recipe"]
    raise DatasetError("the dataset has no rows")


def verify_dataset(args) -> tuple[list[RowResult], dict]:
    dataset_dir = Path(args.dataset_dir)
    shards = split_shards(dataset_dir, args.split)
    n = None if args.all else args.n
    chosen = {split: chosen_positions(paths, n, args.seed) for split, paths in shards.items()}
    first = _first_recipe(shards)
    source, why = reachable_source(first, args.source_root)
    note = ""
    if source is None:
        note = (f"the source audio cannot be reached ({why}): the re-render check and every claim measured from the "
                f"sound are skipped, only the negatives' wording is checked; give --source_root")
        print(f"note: {note}", file=sys.stderr)
    else:
        for line in mismatches_here(Recipe.from_json(first), source):  # said once; each row's rerender claim repeats it
            print(f"warning: {line}", file=sys.stderr)
    results = []
    for split, paths in shards.items():
        results += run_rows(iter_rows(paths, chosen[split]), source, args.num_proc, len(chosen[split]), f"verify {split}")
    meta = {"dataset": dataset_dir.resolve().name, "dataset_dir": str(args.dataset_dir), "splits": list(shards),
            "selection": "all rows" if args.all else f"a sample of {args.n} per split, seed {args.seed}",
            "source_note": note}
    return results, meta


def run(args) -> int:
    if args.n < 1 or args.num_proc < 1:
        raise SystemExit("error: --n and --num_proc must be at least 1")
    results, meta = verify_dataset(args)
    out = Path(args.output_dir) if args.output_dir else Path(args.dataset_dir) / ".audiosetmix" / "verify"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "verify.json", report_json(results, meta))
    (out / "verify.md").write_text(report_markdown(results, meta), encoding="utf-8")
    summary = tally(results)
    failed_claims = sum(c.get("failed", 0) for c in summary["claims"].values())
    print(f"verified {summary['rows']} rows: {summary['failed_rows']} with a failing claim ({failed_claims} claims "
          f"failed); wrote {out / 'verify.md'} and {out / 'verify.json'}")
    return 1 if failed_claims else 0


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("verify", help="measure every claim of each row's caption from its sound",
                       description="Re-render each sampled row (and its counterfactual clips) and check it equals the "
                                   "stored audio; measure each claim (events present and audible, modifiers, order, "
                                   "follow, overlap, background) from the sound; check each negative changes only what "
                                   "its kind says. Exit 0: all pass; 1: a claim fails; 2: usage error.")
    p.add_argument("--dataset_dir", required=True, help="a built dataset (data/*.parquet)")
    p.add_argument("--split", help="one split (default: every split)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--n", type=int, default=DEFAULT_N, help=f"rows sampled per split (default {DEFAULT_N})")
    group.add_argument("--all", action="store_true", help="check every row")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--source_root", help="the folder the source's files are in on this machine (recipes name it <source_root>)")
    p.add_argument("--num_proc", type=int, default=1, help="processes (the report does not depend on it)")
    p.add_argument("--output_dir", help="where verify.json and verify.md go (default: DATASET_DIR/.audiosetmix/verify)")
    p.set_defaults(func=run)
    return p
