"""Convolution and pooling: local receptive fields, shared weights, feature maps.

A convolutional layer slides each ``kh × kw × channels`` kernel over the image; every output unit (a pixel of
a *feature map*) sees only its local receptive field and all units of one map share the same weights and
bias. A 5 × 5 receptive field on a one-channel image has 25 shared weights + 1 bias whatever the image size.
Strictly this is a cross-correlation (the kernel is not flipped), which is what every deep-learning
library calls convolution.

Two implementations compute the same thing:

* :func:`conv2d_naive` — loops over images and output positions: the definition, readable line by line;
* :func:`conv2d` — *im2col*: copy every receptive field into a row of a matrix, then one matrix product with
  the kernels does all positions of all maps at once. The layer :class:`Conv2D` uses it.

Padding follows TensorFlow: ``"valid"`` uses only full windows, output ⌊(n − k) / s⌋ + 1; ``"same"`` pads with
zeros so the output is ⌈n / s⌉, putting any odd pad at the end.

The course's worked example, a 5 × 5 binary image and a 3 × 3 kernel:

>>> import numpy as np
>>> image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
>>> kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
>>> conv2d(image[None, :, :, None], kernel[:, :, None, None])[0, :, :, 0].astype(int).tolist()
[[4, 3, 4], [2, 4, 3], [2, 3, 4]]
>>> conv_output_size(28, 5), conv_output_size(28, 3, padding="same"), conv_output_size(28, 2, stride=2)
(24, 28, 14)
"""

from __future__ import annotations

import numpy as np

from labkit.nn import activations
from labkit.nn import initializers as inits
from labkit.nn.layers import Layer

__all__ = ["conv_output_size", "padding_amounts", "im2col", "col2im", "conv2d", "conv2d_naive", "pool2d",
           "Conv2D", "MaxPool2D", "AvgPool2D"]


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}.")
    return int(pair[0]), int(pair[1])


def _check_padding(padding: str) -> str:
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def conv_output_size(n: int, kernel_size: int, *, stride: int = 1, padding: str = "valid") -> int:
    """Output length along one axis: ⌊(n − k) / s⌋ + 1 for ``"valid"``, ⌈n / s⌉ for ``"same"``."""
    if _check_padding(padding) == "same":
        return -(-n // stride)
    if kernel_size > n:
        raise ValueError(f"a {kernel_size}-wide kernel does not fit in {n} pixels with 'valid' padding.")
    return (n - kernel_size) // stride + 1


def padding_amounts(n: int, kernel_size: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros added (before, after) along one axis; TensorFlow puts the odd one at the end."""
    if _check_padding(padding) == "valid":
        return 0, 0
    total = max((conv_output_size(n, kernel_size, stride=stride, padding="same") - 1) * stride + kernel_size - n, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: str, value: float = 0.0):
    (t, b), (le, r) = (padding_amounts(x.shape[1], kernel[0], stride[0], padding),
                       padding_amounts(x.shape[2], kernel[1], stride[1], padding))
    if t or b or le or r:
        x = np.pad(x, ((0, 0), (t, b), (le, r), (0, 0)), constant_values=value)
    return x, (t, le)


def _check_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images of shape (n, height, width, channels), got shape {x.shape}; "
                         f"add axes with x[..., None] (one channel) or x[None] (one image).")
    return x


def im2col(x: np.ndarray, kernel_size, *, stride=1, padding: str = "valid") -> np.ndarray:
    """Every receptive field as a row: ``(n, h, w, c)`` → ``(n, oh, ow, kh, kw, c)`` (reshape to a matrix with
    ``.reshape(-1, kh * kw * c)``). Built with one strided slice per kernel offset."""
    x = _check_images(x)
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    oh = conv_output_size(x.shape[1], kh, stride=sh, padding=padding)
    ow = conv_output_size(x.shape[2], kw, stride=sw, padding=padding)
    xp, _ = _pad(x, (kh, kw), (sh, sw), padding)
    cols = np.empty((x.shape[0], oh, ow, kh, kw, x.shape[3]), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
    return cols


def col2im(cols: np.ndarray, input_shape: tuple[int, ...], *, stride=1, padding: str = "valid") -> np.ndarray:
    """The adjoint of :func:`im2col`: add each row's entries back where they came from (overlaps sum)."""
    n, oh, ow, kh, kw, c = cols.shape
    sh, sw = _pair(stride, "stride")
    h, w = input_shape[1], input_shape[2]
    (t, b), (le, r) = padding_amounts(h, kh, sh, padding), padding_amounts(w, kw, sw, padding)
    out = np.zeros((n, h + t + b, w + le + r, c), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += cols[:, :, :, i, j, :]
    return out[:, t:t + h, le:le + w, :]


def conv2d(x: np.ndarray, kernel: np.ndarray, *, stride=1, padding: str = "valid") -> np.ndarray:
    """Convolve images ``(n, h, w, c)`` with kernels ``(kh, kw, c, filters)`` by im2col + one matrix product;
    returns feature maps ``(n, oh, ow, filters)``. Same semantics as ``tf.nn.conv2d``."""
    x, kernel = _check_images(x), np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
        raise ValueError(f"kernel must have shape (kh, kw, {x.shape[3]}, filters) for {x.shape[3]}-channel images, "
                         f"got {kernel.shape}.")
    kh, kw, c, f = kernel.shape
    cols = im2col(x, (kh, kw), stride=stride, padding=padding)
    n, oh, ow = cols.shape[:3]
    return (cols.reshape(n * oh * ow, kh * kw * c) @ kernel.reshape(kh * kw * c, f)).reshape(n, oh, ow, f)


def conv2d_naive(x: np.ndarray, kernel: np.ndarray, *, stride=1, padding: str = "valid") -> np.ndarray:
    """The definition, loop by loop: for each image and each output position, multiply the receptive field by
    each kernel and sum. Slow; kept as the readable reference :func:`conv2d` is tested against."""
    x, kernel = _check_images(x), np.asarray(kernel)
    kh, kw, c, f = kernel.shape
    sh, sw = _pair(stride, "stride")
    xp, _ = _pad(x, (kh, kw), (sh, sw), padding)
    oh = conv_output_size(x.shape[1], kh, stride=sh, padding=padding)
    ow = conv_output_size(x.shape[2], kw, stride=sw, padding=padding)
    out = np.zeros((x.shape[0], oh, ow, f), dtype=np.result_type(x, kernel))
    for n in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                field = xp[n, i * sh:i * sh + kh, j * sw:j * sw + kw, :]     # the local receptive field
                for k in range(f):
                    out[n, i, j, k] = np.sum(field * kernel[:, :, :, k])  # shared weights of map k
    return out


def _windows(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int], padding: str, fill: float):
    """All pooling windows stacked on a new first axis: ``(ph·pw, n, oh, ow, c)``."""
    oh = conv_output_size(x.shape[1], pool[0], stride=stride[0], padding=padding)
    ow = conv_output_size(x.shape[2], pool[1], stride=stride[1], padding=padding)
    xp, _ = _pad(x, pool, stride, padding, value=fill)
    return np.stack([xp[:, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1], :]
                     for i in range(pool[0]) for j in range(pool[1])])


def pool2d(x: np.ndarray, pool_size=2, *, strides=None, padding: str = "valid", mode: str = "max") -> np.ndarray:
    """Max or average pooling over ``pool_size`` windows (strides default to the pool size, as in Keras).
    With ``"same"`` padding the max ignores the padding and the average divides by the real pixels only."""
    x = _check_images(x)
    pool = _pair(pool_size, "pool_size")
    stride = pool if strides is None else _pair(strides, "strides")
    if mode == "max":
        return _windows(x, pool, stride, padding, -np.inf).max(axis=0)
    if mode == "avg":
        total = _windows(x, pool, stride, padding, 0.0).sum(axis=0)
        return total / _windows(np.ones((1, *x.shape[1:3], 1)), pool, stride, padding, 0.0).sum(axis=0)
    raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}.")


class Conv2D(Layer):
    """``filters`` feature maps, each from a ``kernel_size`` kernel shared across the image, plus a bias.

    Parameters: kh × kw × channels × filters + filters (20 maps of 5 × 5 on one channel: 520).
    """

    def __init__(self, filters: int, kernel_size, *, strides=1, padding: str = "valid",
                 activation: str | activations.Activation | None = None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros"):
        super().__init__()
        if int(filters) != filters or filters < 1:
            raise ValueError(f"filters must be a positive integer, got {filters!r}.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _check_padding(padding)
        self.activation = activations.get(activation)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.bias_initializer = inits.get(bias_initializer)

    def build(self, input_shape, rng, dtype=np.float64):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D takes images (n, height, width, channels), but was given shape "
                             f"(n, {', '.join(map(str, input_shape))}); reshape with x.reshape(-1, 28, 28, 1).")
        shape = (*self.kernel_size, input_shape[2], self.filters)
        self.params["kernel"] = self.kernel_initializer(shape, rng).astype(dtype)
        self.params["bias"] = self.bias_initializer((self.filters,), rng).astype(dtype)
        return super().build(input_shape, rng, dtype)

    def _output_shape(self, input_shape):
        return (conv_output_size(input_shape[0], self.kernel_size[0], stride=self.strides[0], padding=self.padding),
                conv_output_size(input_shape[1], self.kernel_size[1], stride=self.strides[1], padding=self.padding),
                self.filters)

    def forward(self, x, *, training=False):
        self._check_input(x)
        cols = im2col(x, self.kernel_size, stride=self.strides, padding=self.padding)
        n, oh, ow = cols.shape[:3]
        cols = cols.reshape(n * oh * ow, -1)
        z = (cols @ self.params["kernel"].reshape(cols.shape[1], self.filters)).reshape(n, oh, ow, self.filters)
        z += self.params["bias"]
        y = self.activation(z)
        self._cache = (x.shape, cols, z, y)
        return y

    def backward(self, grad, *, pre_activation: bool = False):
        shape, cols, z, y = self._cache
        delta = grad if pre_activation else self.activation.vjp(z, y, grad)
        delta2 = delta.reshape(-1, self.filters)
        kernel = self.params["kernel"]
        self.grads["kernel"] = (cols.T @ delta2).reshape(kernel.shape)
        self.grads["bias"] = delta2.sum(axis=0)
        dcols = (delta2 @ kernel.reshape(-1, self.filters).T).reshape(*delta.shape[:3], *kernel.shape[:3])
        return col2im(dcols, shape, stride=self.strides, padding=self.padding)

    def __repr__(self):
        return f"Conv2D({self.filters}, {self.kernel_size}, strides={self.strides}, padding={self.padding!r})"


class _Pool2D(Layer):
    mode = "max"

    def __init__(self, pool_size=2, *, strides=None, padding: str = "valid"):
        super().__init__()
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding = _check_padding(padding)

    def _output_shape(self, input_shape):
        return (conv_output_size(input_shape[0], self.pool_size[0], stride=self.strides[0], padding=self.padding),
                conv_output_size(input_shape[1], self.pool_size[1], stride=self.strides[1], padding=self.padding),
                input_shape[2])

    def _scatter(self, per_window: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Add ``per_window[k]`` (one array per window offset) back to the input pixels it came from."""
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        oh, ow = per_window.shape[2:4]
        (t, b), (le, r) = (padding_amounts(shape[1], ph, sh, self.padding),
                           padding_amounts(shape[2], pw, sw, self.padding))
        out = np.zeros((shape[0], shape[1] + t + b, shape[2] + le + r, shape[3]), dtype=per_window.dtype)
        for k in range(ph * pw):
            i, j = divmod(k, pw)
            out[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += per_window[k]
        return out[:, t:t + shape[1], le:le + shape[2], :]

    def __repr__(self):
        return f"{type(self).__name__}({self.pool_size}, strides={self.strides}, padding={self.padding!r})"


class MaxPool2D(_Pool2D):
    """The largest value in each window; the gradient flows back only to that (first) maximum."""

    def forward(self, x, *, training=False):
        self._check_input(x)
        windows = _windows(x, self.pool_size, self.strides, self.padding, -np.inf)
        winner = windows.argmax(axis=0)
        self._cache = (x.shape, winner)
        return np.take_along_axis(windows, winner[None], axis=0)[0]

    def backward(self, grad):
        shape, winner = self._cache
        mask = winner[None] == np.arange(self.pool_size[0] * self.pool_size[1]).reshape(-1, 1, 1, 1, 1)
        return self._scatter(mask * grad[None], shape)


class AvgPool2D(_Pool2D):
    """The mean of each window (with ``"same"`` padding, of its real pixels); the gradient is shared equally."""

    def forward(self, x, *, training=False):
        self._check_input(x)
        counts = _windows(np.ones((1, *x.shape[1:3], 1), dtype=x.dtype), self.pool_size, self.strides,
                          self.padding, 0.0).sum(axis=0)
        self._cache = (x.shape, counts)
        return _windows(x, self.pool_size, self.strides, self.padding, 0.0).sum(axis=0) / counts

    def backward(self, grad):
        shape, counts = self._cache
        share = grad / counts
        return self._scatter(np.broadcast_to(share, (self.pool_size[0] * self.pool_size[1], *share.shape)), shape)
