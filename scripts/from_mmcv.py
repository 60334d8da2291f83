"""Convert an MMCV 1.x / MMClassification 0.x config into an optkit experiment: see
optkit.from_mmcv.main.

    python scripts/from_mmcv.py my_config.py -o conf/experiment/my_config.yaml
    python scripts/from_mmcv.py my_config.py --overrides
"""
from optkit.from_mmcv.main import main

if __name__ == "__main__":
    main()
