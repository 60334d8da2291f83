"""optkit's config tree (train.yaml and one folder per config group), shipped in the wheel.

A package so Hydra finds it as `pkg://optkit.conf` wherever optkit is installed (a wheel, an
editable install, or `PYTHONPATH=src`); Hydra's importlib config source needs this file.
"""
