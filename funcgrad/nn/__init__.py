"""Neural-network building blocks: convolution, pooling, activations, losses, initializers,
layers."""

from funcgrad.nn.activations import (celu, elu, gelu, hard_tanh, leaky_relu, log_sigmoid,
                                     log_softmax, logsumexp, relu, relu6, selu, sigmoid, silu,
                                     softmax, softplus, softsign, swish, tanh)
from funcgrad.nn.combinators import FanInConcat, FanInSum, FanOut, parallel, serial
from funcgrad.nn.conv import conv2d, conv_transpose2d
from funcgrad.nn.initializers import (glorot_normal, glorot_uniform, he_normal, he_uniform,
                                      lecun_normal, lecun_uniform, ones, orthogonal, zeros)
from funcgrad.nn.kernels import h_conv2d, h_conv2d_grad
from funcgrad.nn.layers import (AvgPool, AvgPool2D, Celu, Conv, Conv2D, ConvTranspose, Dense,
                                Dropout, Elu, Flatten, Gelu, GlobalAvgPool, HardTanh, Identity,
                                Layer, LeakyRelu, Linear, LogSigmoid, LogSoftmax, MaxPool,
                                MaxPool2D, Relu, Relu6, Selu, Sigmoid, Silu, Softmax, Softplus,
                                Softsign, Swish, Tanh, elementwise)
from funcgrad.nn.losses import (binary_cross_entropy_with_logits, cross_entropy, huber, l1, mse,
                                nll, one_hot)
from funcgrad.nn.normalization import BatchNorm, LayerNorm, batch_norm
from funcgrad.nn.pool import avg_pool2d, max_pool2d

__all__ = [
    "AvgPool", "AvgPool2D", "BatchNorm", "Celu", "Conv", "Conv2D", "ConvTranspose", "Dense",
    "Dropout", "Elu", "FanInConcat", "FanInSum", "FanOut", "Flatten", "Gelu",
    "GlobalAvgPool", "HardTanh", "Identity", "Layer", "LayerNorm", "LeakyRelu", "Linear",
    "LogSigmoid", "LogSoftmax", "MaxPool", "MaxPool2D", "Relu", "Relu6", "Selu", "Sigmoid",
    "Silu", "Softmax", "Softplus", "Softsign", "Swish", "Tanh", "avg_pool2d",
    "batch_norm", "binary_cross_entropy_with_logits", "celu", "conv2d", "conv_transpose2d",
    "cross_entropy", "elementwise", "elu", "gelu", "glorot_normal", "glorot_uniform",
    "h_conv2d", "h_conv2d_grad", "hard_tanh", "he_normal", "he_uniform", "huber", "l1",
    "leaky_relu", "lecun_normal", "lecun_uniform", "log_sigmoid", "log_softmax",
    "logsumexp", "max_pool2d", "mse", "nll", "one_hot", "ones", "orthogonal", "parallel",
    "relu", "relu6", "selu", "serial", "sigmoid", "silu", "softmax", "softplus", "softsign",
    "swish", "tanh", "zeros",
]
