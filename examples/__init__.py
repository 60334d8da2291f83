"""The tutorial's user code (docs/tutorial.md, "Custom optimization methods"): a package of
your own, outside optkit, importable from the repository root, which `python train.py`
puts on sys.path. Your own package works the same wherever it is importable (PYTHONPATH)."""
