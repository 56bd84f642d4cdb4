"""`verify`: each row's claims measured from its own sound (docs/verify.md).

envelope (frame levels, onsets, ends), renders (the clip and each event alone, through the renderer),
claims (what is measured from the sound, and its thresholds), caption (the caption says its recipe),
negatives (a negative's wording), rerender (stored = re-rendered), row (one row whole), report
(verify.json, verify.md), dataset (rows of a built dataset), cli (`audiosetmix verify`), in_build
(`build --verify`).
"""
