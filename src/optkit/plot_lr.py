"""`python scripts/plot_lr.py [overrides] out=PATH.png json=PATH.json iters_per_epoch=N`
(also `optkit-plot-lr`): the lr, momentum and every other scheduled key (weight decay, a
custom optimizer's key) of every param group over a whole run, before training it.

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
    """{"iters_per_epoch", "max_iters", "groups": [{"name", "lr", "momentum", "weight_decay",
    ...}]} as numpy arrays: every scheduled key's curve per group, from the group's base as
    built. momentum without a policy is the optimizer's constant momentum (or beta1), None for
    an optimizer that has neither; weight_decay without a curve is None (constant)."""
    from optkit import validate
    from optkit.preview import preview

    # validate.check previews every data set with a static description; for one without,
    # preview() says that the curves need it
    plan = validate.check(cfg, iters_per_epoch=iters_per_epoch, data_files=False) or preview(cfg, iters_per_epoch)
    return group_curves(plan.groups, plan.schedule)


def group_curves(groups: Sequence[dict], schedule: Any) -> dict[str, Any]:
    """`curves` of param groups as built, under `schedule` (a `Schedule`)."""
    from optkit.schedule.keys import group_key

    timeline = schedule.timeline
    steps = np.arange(timeline.max_iters)
    scheduled = {key: schedule.values(key, [group_key(key).read(group) for group in groups], steps)
                 for key in schedule.curves}
    rows = []
    for i, group in enumerate(groups):
        row: dict[str, Any] = {"name": group.get("name", f"group{i}"), "lr": None, "momentum": None,
                               "weight_decay": None}
        for key in ("lr", "momentum"):
            if key not in scheduled and (key == "lr" or "momentum" in group or "betas" in group):
                row[key] = np.full(timeline.max_iters, float(group_key(key).read(group)))
        row.update({key: values[i] for key, values in scheduled.items()})
        rows.append(row)
    return {"iters_per_epoch": timeline.iters_per_epoch, "max_iters": timeline.max_iters, "groups": rows}


def to_json(data: dict[str, Any]) -> dict[str, Any]:
    groups = [{key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in g.items()}
              for g in data["groups"]]
    return {"iters_per_epoch": data["iters_per_epoch"], "max_iters": data["max_iters"], "groups": groups}


PANEL_LABELS = {"momentum": "momentum (beta1)"}


def plot(data: dict[str, Any], out: Path, title: str) -> None:
    """One panel per key that has a curve in some group (lr, momentum, weight_decay, ...),
    one line per group, against iteration; epochs on the top axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    keys = [key for key in dict.fromkeys(k for g in data["groups"] for k in g if k != "name")
            if any(g.get(key) is not None for g in data["groups"])]
    fig, axes = plt.subplots(len(keys), 1, sharex=True, squeeze=False, figsize=(9, 0.8 + 2.9 * len(keys)),
                             constrained_layout=True)
    axes = axes[:, 0]
    x = np.arange(data["max_iters"])
    for i, group in enumerate(data["groups"]):
        style = {"label": group["name"], "linewidth": 1.2, "linestyle": LINESTYLES[i // 10 % len(LINESTYLES)]}
        for ax, key in zip(axes, keys):
            if group.get(key) is not None:
                ax.plot(x, group[key], **style)
    for ax, key in zip(axes, keys):
        ax.set_ylabel(PANEL_LABELS.get(key, key))
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
