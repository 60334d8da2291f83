"""A user's own package, as the tutorial's `mmcls/core/optimizer/`: imported by module path
(tests put its parent, tests/, on PYTHONPATH), never through optkit."""
