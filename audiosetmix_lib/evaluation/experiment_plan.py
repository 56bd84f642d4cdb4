"""Which runs the experiment trains (arm x seed, ablation points) and which pairs of runs it compares."""

from __future__ import annotations

from dataclasses import dataclass

from .mix_ablation import MixPoint

BASE_ARM = "captions"
ABLATION_ARM = "both"
CLAIM_KINDS = ("modifier", "order", "relation")


@dataclass(frozen=True)
class RunSpec:
    """One training run: an arm, a training seed, and the ablation build it trains on (None: the main one)."""

    name: str
    arm: str
    seed: int
    point: MixPoint | None = None


def planned_runs(args) -> list[RunSpec]:
    """Arm by arm, each at every seed (only the first for arms left out of --seed_arms; the first seed's
    runs keep the bare arm name), then the mixing ablation: the order of the issue's budget."""
    runs = []
    for arm in args.arms.split(","):
        seeds = args.seed_list if not args.seed_arms or arm in args.seed_arms else args.seed_list[:1]
        for i, seed in enumerate(seeds):
            runs.append(RunSpec(arm if i == 0 else f"{arm}@seed{seed}", arm, seed))
    for point in args.ablation:
        runs.append(RunSpec(f"{ABLATION_ARM}@{point.tag}", ABLATION_ARM, args.seed_list[0], point))
    return runs


def run_steps(args, spec: RunSpec) -> int:
    """The run's budget: --steps, or --ablation_steps for a run of the mixing ablation."""
    if spec.point is not None and args.ablation_steps is not None:
        return args.ablation_steps
    return args.steps


def data_tag(args, point: MixPoint | None) -> str:
    """The suffix of a build's folder and stamp: none for the main build and for a point that keeps the
    main build's own setting (the experiment's builds use the config's mixing defaults unless --dataset)."""
    if point is None or (point.is_default and not args.dataset):
        return ""
    return f"-{point.tag}"


def comparisons(runs: list[RunSpec]) -> list[tuple[str, str]]:
    """(base run, other run) pairs to report: every run against `captions` of its seed (the ablation
    against the first seed's), then every other pair of the first seed's arms, then each ablation
    run against `both` and against the first point of its own setting (the same budget)."""
    names = {r.name for r in runs}
    base_of = {r.seed: r.name for r in runs if r.arm == BASE_ARM and r.point is None}
    first = runs[0].seed if runs else None
    pairs = []
    for r in runs:
        base = base_of.get(r.seed if r.point is None else first)
        if base and r.name != base:
            pairs.append((base, r.name))
    main_runs = [r.name for r in runs if r.seed == first and r.point is None]
    for i, x in enumerate(main_runs):
        for y in main_runs[i + 1:]:
            if (x, y) not in pairs and (y, x) not in pairs and x in names and y in names:
                pairs.append((x, y))
    if ABLATION_ARM in names:
        pairs += [(ABLATION_ARM, r.name) for r in runs if r.point is not None]
    reference_of: dict[str, str] = {}
    for r in runs:
        if r.point is None:
            continue
        reference = reference_of.setdefault(r.point.setting, r.name)
        if reference != r.name:
            pairs.append((reference, r.name))
    return pairs



def seed_pairs(runs: list[RunSpec]) -> dict[str, list[tuple[str, str]]]:
    """Per arm other than `captions`: the (captions run, arm run) pairs trained at the same seed on the main
    build, in seed order (the seed-level answer averages over them)."""
    base_of = {r.seed: r.name for r in runs if r.arm == BASE_ARM and r.point is None}
    pairs: dict[str, list[tuple[str, str]]] = {}
    for r in runs:
        if r.point is None and r.arm != BASE_ARM and r.seed in base_of:
            pairs.setdefault(r.arm, []).append((base_of[r.seed], r.name))
    return pairs
