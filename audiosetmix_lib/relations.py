"""How events relate (follow, overlap, background) and the words that say so, in one place."""

from __future__ import annotations

RELATIONS = ("follow", "overlap", "background")

# Words a caption may use for each relation (the validator requires one where the recipe has it).
FOLLOW_WORDS = ("followed", "then", "after", "afterwards", "afterward", "before", "later", "next", "subsequently",
                "finally", "once")
OVERLAP_WORDS = ("while", "as", "with", "along", "alongside", "during", "over", "amid", "amidst", "simultaneously",
                 "meanwhile", "together", "accompanied", "same time", "background", "underneath", "beneath")
BACKGROUND_WORD = "background"

# The narrower groups the statistics count (the AudioCaps reference rates were measured with these).
STATS_WORD_GROUPS = {
    "order": ("followed by", "then", "after", "before"),
    "overlap": ("while", "as", "along with", "in the background"),
}
