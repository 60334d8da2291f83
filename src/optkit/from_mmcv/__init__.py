"""Import MMCV 1.x / MMClassification 0.x and MMEngine (MMPretrain 1.x) configs:
`optkit-from-mmcv CONFIG.py`.

`read` evaluates the config file (with its `_base_` files) without MMCV and without running
it, `translate` maps its optimization keys onto optkit's options and fields (one handler per
key, writing a `translation.Translation`; `catalogue` says what the shipped options hold,
`match` selects a shipped option that covers the values; `mmengine_keys` does the same for
MMEngine's keys, `read_base` reads MMEngine's new-style files), `emit` writes
an experiment file or one line of overrides, `main` is the command line.
"""
from optkit.from_mmcv.read import ReadError, Unevaluable, read_config
from optkit.from_mmcv.translate import Translation, translate

__all__ = ["ReadError", "Translation", "Unevaluable", "read_config", "translate"]
