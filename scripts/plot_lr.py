"""The lr (and momentum) curves of a config, before training: see optkit.plot_lr.

    python scripts/plot_lr.py schedule=cyclic momentum=cyclic out=lr.png json=lr.json
"""
from optkit.plot_lr import main

if __name__ == "__main__":
    main()
