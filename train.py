"""python train.py [group=option ...] [key=value ...]   — see README.md.

Thin entry point: optkit checks the command line, Hydra composes conf/train.yaml, and
`optkit.train.run(cfg)` trains (see `optkit.cli.train_task`).
"""
from optkit.cli import train_main

if __name__ == "__main__":
    train_main()
