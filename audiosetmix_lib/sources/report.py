"""What a source skipped, changed and lost, as terminal lines and as card Markdown.

One summary for every source: skips counted by kind with the first few items, every label the
source cut (`Source.label_changes`), and a warning for every class that lost all its events,
naming the flag that would keep them. Items are relative to the source (no build-machine paths).
"""

from __future__ import annotations

import re
from collections import Counter

from ..events import Skip

FIRST_ITEMS = 10
LABEL_TEXT_LIMIT = 80

# kind of skip -> what the user can change
_FIXES = {
    "too short": "lower --min_event_seconds",
    "silent audio": "check that the files are not silent",
    "truncated audio": "re-copy or re-download the files",
    "unreadable audio": "re-encode the files (wav/flac/ogg/mp3)",
    "missing file": "fix file_name in metadata.csv",
    "path escape": "move the files into the source folder",
}


def kind_counts(skipped: list[Skip]) -> list[tuple[str, int]]:
    """(kind, count), most frequent first, ties by name."""
    counts = Counter(skip.kind for skip in skipped)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _short(text: str) -> str:
    text = repr(text)
    return text if len(text) <= LABEL_TEXT_LIMIT else text[: LABEL_TEXT_LIMIT - 4] + "...'"


def lost_class_warnings(source) -> list[str]:
    """One sentence per class that had inputs but kept no event."""
    lines = []
    for label, kinds in source.lost_classes().items():
        total = sum(kinds.values())
        reasons = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda item: (-item[1], item[0])))
        fixes = sorted({_FIXES[kind] for kind in kinds if kind in _FIXES})
        if "too short" in kinds:
            reasons = reasons.replace("too short", f"shorter than {source.min_event_seconds} s")
        fix = f"; to keep them: {'; '.join(fixes)}" if fixes else ""
        lines.append(f"class {label!r} lost all its events ({total}: {reasons}){fix}")
    return lines


def label_change_lines(source) -> list[str]:
    return [f"{_short(raw)} -> {cut!r}" for raw, cut in sorted(source.label_changes.items())]


def terminal_lines(source) -> list[str]:
    """The build summary's source part."""
    skipped = source.skipped
    lines = [f"  skipped inputs: {len(skipped)}"]
    lines += [f"    {n:>5}  {kind}" for kind, n in kind_counts(skipped)]
    lines += [f"      - {skip.item}: {skip.reason}" for skip in skipped[:FIRST_ITEMS]]
    if len(skipped) > FIRST_ITEMS:
        lines.append(f"      ... and {len(skipped) - FIRST_ITEMS} more (all of them in the dataset card)")
    changes = label_change_lines(source)
    if changes:
        lines.append(f"  labels changed (cut at their first . ! ? < > : or line break): {len(changes)}")
        lines += [f"      {line}" for line in changes]
    return lines


# an absolute path's folders (POSIX, or a Windows drive): what names a place on the build machine
_ABSOLUTE_FOLDERS = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:[\\/]|/)(?:[^\s'\"/\\]+[/\\])+")


def without_folders(text: str) -> str:
    """`text` with the folders of every absolute path cut to `.../` (a metadata row or a decoder's message may
    name them; the card is published, so it keeps only the file name)."""
    return _ABSOLUTE_FOLDERS.sub(".../", str(text))


def _md(text: str) -> str:
    """User text (labels, file names) as inert Markdown: no HTML tags, code spans or line breaks."""
    return " ".join(str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'").split())


def card_markdown(source, limit: int = 50) -> str:
    """The card's 'Inputs the source skipped' section body."""
    skipped = source.skipped
    if not skipped and not source.label_changes:
        return "none"
    parts = [f"{len(skipped)}" + (" (" + "; ".join(f"{kind}: {n}" for kind, n in kind_counts(skipped)) + ")" if skipped else "")]
    warnings = lost_class_warnings(source)
    if warnings:
        parts.append("\n**Classes that lost all their events:**\n")
        parts += [f"- {_md(line)}" for line in warnings]
    if skipped:
        shown = skipped[:limit]
        parts.append(f"\n**Skipped inputs** (first {len(shown)} of {len(skipped)}):\n")
        parts += [f"- `{_md(without_folders(skip.item))}` ({skip.kind}): {_md(without_folders(skip.reason))}" for skip in shown]
    changes = label_change_lines(source)
    if changes:
        parts.append("\n**Labels changed** (cut at their first `.`, `!`, `?`, `<`, `>`, `:` or line break):\n")
        parts += [f"- {_md(_short(raw))} -> {_md(repr(cut))}" for raw, cut in sorted(source.label_changes.items())]
    return "\n".join(parts)
