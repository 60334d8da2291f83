"""optkit: Hydra-composed PyTorch experiments for optimization strategy."""
__version__ = "0.1.0"
