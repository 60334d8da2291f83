"""The lr range test of a config: see optkit.lr_find.

    python scripts/lr_find.py model=mlp optimizer=sgd out=lr_find.png json=lr_find.json
"""
from optkit.lr_find import main

if __name__ == "__main__":
    main()
