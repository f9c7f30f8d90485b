"""Neural-network building blocks: convolution, pooling, activations, losses, layers."""

from funcgrad.nn.activations import log_softmax, logsumexp, relu, sigmoid, softmax, tanh
from funcgrad.nn.conv import conv2d, conv_transpose2d
from funcgrad.nn.kernels import h_conv2d, h_conv2d_grad
from funcgrad.nn.layers import (AvgPool2D, Conv, Conv2D, ConvTranspose, Dense, Flatten, Layer,
                                Linear, LogSoftmax, MaxPool2D, Relu, Sigmoid, Tanh, elementwise,
                                glorot_uniform, he_normal, serial)
from funcgrad.nn.losses import cross_entropy, mse, one_hot
from funcgrad.nn.pool import avg_pool2d, max_pool2d

__all__ = [
    "AvgPool2D", "Conv", "Conv2D", "ConvTranspose", "Dense", "Flatten", "Layer", "Linear",
    "LogSoftmax", "MaxPool2D", "Relu", "Sigmoid", "Tanh", "avg_pool2d", "conv2d",
    "conv_transpose2d", "cross_entropy", "elementwise", "glorot_uniform", "h_conv2d",
    "h_conv2d_grad", "he_normal", "log_softmax", "logsumexp", "max_pool2d", "mse", "one_hot",
    "relu", "serial", "sigmoid", "softmax", "tanh",
]
