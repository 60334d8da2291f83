"""Reference models. Each takes `in_shape` and `num_classes` from the data set."""
from optkit.models.cnn import SmallCNN
from optkit.models.mlp import MLP
from optkit.models.resnet import ResNet
from optkit.models.vit import ViT

__all__ = ["MLP", "ResNet", "SmallCNN", "ViT"]
