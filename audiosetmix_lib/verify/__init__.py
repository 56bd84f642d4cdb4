"""`verify`: each row's claims measured from its own sound (docs/verify.md).

envelope (frame levels), renders (the clip and each event alone, through the renderer), claims (what is
measured and its thresholds), rerender (stored = re-rendered), negatives (wording), row, report, cli.
"""
