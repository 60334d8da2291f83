"""`python scripts/plot_lr.py [overrides] out=PATH.png json=PATH.json iters_per_epoch=N`
(also `optkit-plot-lr`): the lr and momentum of every param group over a whole run, before
training it.

The config is composed exactly as train.py composes it (conf/train.yaml and the same
overrides, checked by the same one-line errors, exit 2). Nothing is loaded: the data set's
static description (`optkit.data.describe`) gives the model's input shape and the steps
per epoch, the model is built on the meta device, the optimizer gives the param groups
(`optkit.preview`, which validation builds too), and `Schedule` evaluates every curve in
one numpy pass (a million steps well under a second). `lr[i]` is the value that the
optimizer step of iteration i (0-based) uses.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from optkit.compose import compose
from optkit.errors import ConfigError, exit_config_error

TOOL_ARGS = ("out", "json", "iters_per_epoch")
USAGE = "usage: plot_lr.py [hydra overrides] out=PATH.png json=PATH.json iters_per_epoch=N"
LINESTYLES = ("-", "--", ":", "-.")  # after each 10 colours, so that groups never look alike
MAX_EPOCH_LINES = 60  # draw a line at every epoch start up to this many epochs


def split_args(argv: Sequence[str], names: Sequence[str] = TOOL_ARGS) -> tuple[list[str], dict[str, str]]:
    """The tool's own arguments (`names`: here `out=`, `json=`, `iters_per_epoch=`) apart
    from the Hydra overrides."""
    overrides, tool = [], {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in names:
            tool[key] = value
        else:
            overrides.append(arg)
    return overrides, tool


def parse_iters_per_epoch(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError("iters_per_epoch", "must be an int >= 1", text)
    return int(text)


def curves(cfg: Any, iters_per_epoch: Optional[int] = None) -> dict[str, Any]:
    """{"iters_per_epoch", "max_iters", "groups": [{"name", "lr", "momentum"}]} as numpy
    arrays; momentum is the policy's curve, the optimizer's constant momentum (or beta1)
    without a policy, or None for an optimizer that has neither."""
    from optkit import validate
    from optkit.preview import preview
    from optkit.schedule.momentum import current_momentum

    # validate.check previews every data set with a static description; for one without,
    # preview() says that the curves need it
    plan = validate.check(cfg, iters_per_epoch=iters_per_epoch, data_files=False) or preview(cfg, iters_per_epoch)
    groups, timeline, schedule = plan.groups, plan.timeline, plan.schedule
    steps = np.arange(timeline.max_iters)
    lr = schedule.lr([group["lr"] for group in groups], steps)
    momentum = schedule.momentum(groups, steps)
    rows = []
    for i, group in enumerate(groups):
        if momentum is not None:
            values = momentum[i]
        elif "momentum" in group or "betas" in group:
            values = np.full(timeline.max_iters, float(current_momentum(group)))
        else:
            values = None
        rows.append({"name": group.get("name", f"group{i}"), "lr": lr[i], "momentum": values})
    return {"iters_per_epoch": timeline.iters_per_epoch, "max_iters": timeline.max_iters, "groups": rows}


def to_json(data: dict[str, Any]) -> dict[str, Any]:
    groups = [{"name": g["name"], "lr": g["lr"].tolist(),
               "momentum": None if g["momentum"] is None else g["momentum"].tolist()} for g in data["groups"]]
    return {"iters_per_epoch": data["iters_per_epoch"], "max_iters": data["max_iters"], "groups": groups}


def plot(data: dict[str, Any], out: Path, title: str) -> None:
    """lr (and momentum) per group against iteration; epochs on the top axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    has_momentum = any(g["momentum"] is not None for g in data["groups"])
    fig, axes = plt.subplots(2 if has_momentum else 1, 1, sharex=True, squeeze=False,
                             figsize=(9, 6.5 if has_momentum else 3.8), constrained_layout=True)
    axes = axes[:, 0]
    x = np.arange(data["max_iters"])
    for i, group in enumerate(data["groups"]):
        style = {"label": group["name"], "linewidth": 1.2, "linestyle": LINESTYLES[i // 10 % len(LINESTYLES)]}
        axes[0].plot(x, group["lr"], **style)
        if has_momentum and group["momentum"] is not None:
            axes[1].plot(x, group["momentum"], **style)
    axes[0].set_ylabel("lr")
    if has_momentum:
        axes[1].set_ylabel("momentum (beta1)")
    axes[-1].set_xlabel("iteration")
    per_epoch = data["iters_per_epoch"]
    epochs = -(-data["max_iters"] // per_epoch)
    top = axes[0].secondary_xaxis("top", functions=(lambda i: i / per_epoch, lambda e: e * per_epoch))
    top.set_xlabel("epoch")
    top.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, max(data["max_iters"] - 1, 1))
        if epochs <= MAX_EPOCH_LINES:
            for e in range(1, epochs):
                ax.axvline(e * per_epoch, color="0.85", linewidth=0.6, zorder=0)
    axes[0].legend(loc="best", fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.savefig(out, dpi=120)
    plt.close(fig)


def describe_run(cfg: Any) -> str:
    from optkit.config import target_name

    warmup = cfg.warmup.get("kind") or "none"
    return f"lr {target_name(cfg.schedule)}, warmup {warmup}, momentum {target_name(cfg.get('momentum'))}"


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE)
        return
    overrides, tool = split_args(argv)
    try:
        iters_per_epoch = parse_iters_per_epoch(tool.get("iters_per_epoch"))
        cfg = compose(overrides)
        data = curves(cfg, iters_per_epoch)
    except ConfigError as err:
        exit_config_error(err)
    out = Path(tool.get("out", "lr.png"))
    plot(data, out, describe_run(cfg))
    if "json" in tool:
        Path(tool["json"]).write_text(json.dumps(to_json(data)))
    written = out if "json" not in tool else f"{out} and {tool['json']}"
    print(f"{written}: {len(data['groups'])} groups, {data['max_iters']} iterations "
          f"({data['iters_per_epoch']} per epoch)")
