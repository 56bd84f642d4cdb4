"""AudioSetMix: the thin entry point (the builder lives in `audiosetmix_lib.builder`, the CLI in `audiosetmix_lib.cli`).

    from audiosetmix import AudioSetMix                    # the `datasets` builder
    python audiosetmix.py build --output_dir out/synth     # same as the installed `audiosetmix build ...`
"""

from __future__ import annotations

from audiosetmix_lib.builder import AudioSetMix, AudioSetMixConfig, features
from audiosetmix_lib.cli import main

__all__ = ["AudioSetMix", "AudioSetMixConfig", "features", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
