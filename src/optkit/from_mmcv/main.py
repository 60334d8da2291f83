"""`python scripts/from_mmcv.py CONFIG.py [-o conf/experiment/NAME.yaml | --overrides]`
(also `optkit-from-mmcv`).

Without `-o` the experiment file goes to stdout; with `--overrides` one line of
command-line overrides does. Each key that is not translated, and each caveat, is one line
on stderr. A config that cannot be read (missing file, invalid Python, a statement outside
the literal subset, a `_base_` problem MMCV refuses too) is one line on stderr and exit
status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from optkit.config import CONF_DIR
from optkit.from_mmcv.emit import experiment_yaml, override_line, report
from optkit.from_mmcv.read import ReadError, read_config
from optkit.from_mmcv.translate import translate

PROG = "optkit-from-mmcv"
EXIT_BAD_INPUT = 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="from_mmcv.py", description="Convert an MMCV 1.x / MMClassification 0.x "
                                "config into an optkit experiment (python train.py +experiment=NAME).")
    p.add_argument("config", help="the MMCV config file (.py, .json or .yaml); its _base_ files are read too")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="write the experiment file here (conf/experiment/NAME.yaml)")
    out.add_argument("--overrides", action="store_true", help="print one line of train.py overrides instead")
    return p


def usage_line(output: Optional[Path]) -> str:
    if output is not None and output.suffix == ".yaml" and output.resolve().parent == CONF_DIR / "experiment":
        return f"Use: python train.py +experiment={output.stem}"
    return "Use: copy it to conf/experiment/NAME.yaml, then python train.py +experiment=NAME"


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parser().parse_args(argv)
    try:
        cfg = read_config(args.config)
    except ReadError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    t = translate(cfg, args.config)
    try:
        text = override_line(t) + "\n" if args.overrides else None
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    for line in report(t):
        print(f"{PROG}: {line}", file=sys.stderr)
    if text is not None:
        sys.stdout.write(text)
        return
    output = Path(args.output) if args.output else None
    text = experiment_yaml(t, usage_line(output))
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}. {usage_line(output)}")
