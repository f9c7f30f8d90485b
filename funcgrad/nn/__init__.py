"""Neural-network building blocks: convolution, pooling, activations, losses, layers."""

from funcgrad.nn.activations import log_softmax, logsumexp, relu, sigmoid, softmax, tanh
from funcgrad.nn.combinators import FanInConcat, FanInSum, FanOut, parallel, serial
from funcgrad.nn.conv import conv2d
from funcgrad.nn.kernels import h_conv2d, h_conv2d_grad
from funcgrad.nn.layers import (AvgPool, AvgPool2D, Conv2D, Dense, Dropout, Flatten,
                                GlobalAvgPool, Identity, Layer, Linear, LogSoftmax, MaxPool,
                                MaxPool2D, Relu, Sigmoid, Softmax, Tanh, elementwise,
                                glorot_uniform, he_normal)
from funcgrad.nn.losses import cross_entropy, mse, one_hot
from funcgrad.nn.normalization import BatchNorm, LayerNorm
from funcgrad.nn.pool import avg_pool2d, max_pool2d

__all__ = [
    "AvgPool", "AvgPool2D", "BatchNorm", "Conv2D", "Dense", "Dropout", "FanInConcat", "FanInSum",
    "FanOut", "Flatten", "GlobalAvgPool", "Identity", "Layer", "LayerNorm", "Linear",
    "LogSoftmax", "MaxPool", "MaxPool2D", "Relu", "Sigmoid", "Softmax", "Tanh", "avg_pool2d",
    "conv2d", "cross_entropy", "elementwise", "glorot_uniform", "h_conv2d", "h_conv2d_grad",
    "he_normal", "log_softmax", "logsumexp", "max_pool2d", "mse", "one_hot", "parallel", "relu",
    "serial", "sigmoid", "softmax", "tanh",
]
