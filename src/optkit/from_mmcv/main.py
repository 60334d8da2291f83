"""`python scripts/from_mmcv.py CONFIG.py [-o conf/experiment/NAME.yaml | --overrides]`
(also `optkit-from-mmcv`).

Without `-o` the experiment file goes to stdout; with `--overrides` one line of
command-line overrides does. Each key that is not translated, and each caveat, is one line
on stderr. An MMEngine-format config (`optim_wrapper`, `param_scheduler`, `train_cfg`) whose
optimization settings did not all translate exits with status 1 after writing the output,
so that a script notices what an MMEngine file lost (model, data and runtime keys do not
count: optkit has its own); an MMCV 1.x config exits 0 as before. A config that cannot be read (missing file, invalid Python, a statement outside
the literal subset, a `_base_` problem MMCV refuses too, a binary file, a file over the
reader's budget) is one line on stderr and exit status 2; an output file that cannot be
written is one line and exit status 4 (`errors.entry_point`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from optkit.config import CONF_DIR
from optkit.errors import entry_point, writing
from optkit.from_mmcv.emit import experiment_yaml, override_line, report
from optkit.from_mmcv.mmengine_keys import is_mmengine, translate_mmengine
from optkit.from_mmcv.read import ReadError, read_config
from optkit.from_mmcv.translate import translate
from optkit.from_mmcv.translation import Translation

PROG = "optkit-from-mmcv"
EXIT_BAD_INPUT = 2
EXIT_DROPPED = 1  # an MMEngine-format config had optimization settings that were not translated


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="from_mmcv.py", description="Convert an MMCV 1.x / MMClassification 0.x "
                                "or MMEngine (MMPretrain 1.x) config into an optkit experiment (python train.py +experiment=NAME).")
    p.add_argument("config", help="the MMCV config file (.py, .json or .yaml); its _base_ files are read too")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="write the experiment file here (conf/experiment/NAME.yaml)")
    out.add_argument("--overrides", action="store_true", help="print one line of train.py overrides instead")
    return p


def usage_line(output: Optional[Path]) -> str:
    if output is not None and output.suffix == ".yaml" and output.resolve().parent == CONF_DIR / "experiment":
        return f"Use: python train.py +experiment={output.stem}"
    return "Use: copy it to conf/experiment/NAME.yaml, then python train.py +experiment=NAME"


@entry_point
def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parser().parse_args(argv)
    try:
        cfg = read_config(args.config)
    except ReadError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    t = (translate_mmengine if is_mmengine(cfg) else translate)(cfg, args.config)
    try:
        text = override_line(t) + "\n" if args.overrides else None
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    for line in report(t):
        print(f"{PROG}: {line}", file=sys.stderr)
    write(t, text, args.output)
    if t.dropped:
        sys.exit(EXIT_DROPPED)


def write(t: Translation, overrides: Optional[str], output_path: Optional[str]) -> None:
    """The override line, or the experiment file to stdout or to `output_path`."""
    if overrides is not None:
        sys.stdout.write(overrides)
        return
    output = Path(output_path) if output_path else None
    text = experiment_yaml(t, usage_line(output))
    if output is None:
        sys.stdout.write(text)
        return
    with writing(output):
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    print(f"wrote {output}. {usage_line(output)}")
