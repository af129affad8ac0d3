"""labkit.nn: neural networks from scratch in NumPy, readable first and vectorised, checked against TensorFlow.

* neurons: :mod:`~labkit.nn.perceptron` (McCulloch–Pitts, Rosenblatt's perceptron, logic gates)
* :mod:`~labkit.nn.activations`, :mod:`~labkit.nn.losses`, :mod:`~labkit.nn.initializers`
* layers: :class:`Dense`, :class:`Activation`, :class:`Flatten`, :class:`Dropout` (:mod:`~labkit.nn.layers`) and
  :class:`Conv2D`, :class:`MaxPool2D`, :class:`AvgPool2D` with im2col and a naive reference (:mod:`~labkit.nn.conv`)
* recurrent layers: :class:`SimpleRNN`, :class:`LSTM`, :class:`GRU` with backpropagation through time
  (:mod:`~labkit.nn.recurrent`)
* :mod:`~labkit.nn.optimizers`: SGD (momentum, Nesterov), Adagrad, RMSprop, Adam with Keras's update rules
* :class:`Sequential` with ``compile``/``fit``/``evaluate``/``predict`` (:mod:`~labkit.nn.model`)
* :mod:`~labkit.nn.gradcheck`: finite-difference gradient checking

>>> from labkit.nn import Sequential, Dense
>>> Sequential([Dense(15, activation="sigmoid"), Dense(10, activation="softmax")], input_shape=(784,)).count_params()
11935
"""

from labkit.nn.conv import AvgPool2D, Conv2D, MaxPool2D, conv2d, conv2d_naive, im2col
from labkit.nn.gradcheck import gradient_check, numerical_gradient, relative_error
from labkit.nn.layers import Activation, Dense, Dropout, Flatten, Layer
from labkit.nn.model import History, Sequential, accuracy
from labkit.nn.optimizers import SGD, Adagrad, Adam, RMSprop, clip_by_global_norm
from labkit.nn.perceptron import Perceptron, logic_gate, sigmoid_neuron, threshold_unit
from labkit.nn.recurrent import GRU, LSTM, SimpleRNN, input_gradient_norms

__all__ = ["Activation", "Adagrad", "Adam", "AvgPool2D", "Conv2D", "Dense", "Dropout", "Flatten", "GRU", "History",
           "LSTM", "Layer", "MaxPool2D", "Perceptron", "RMSprop", "SGD", "Sequential", "SimpleRNN", "accuracy",
           "clip_by_global_norm", "conv2d", "conv2d_naive", "gradient_check", "im2col", "input_gradient_norms",
           "logic_gate", "numerical_gradient", "relative_error", "sigmoid_neuron", "threshold_unit"]
