"""Recurrent layers: a vanilla RNN, an LSTM and a GRU, unrolled over time, trained by backpropagation through time.

A recurrent layer reads a batch of sequences ``(n, steps, features)`` one step at a time and carries a state
from each step to the next. The forward pass **unrolls** the recurrence into a chain of identical cells; the
backward pass (**BPTT**) walks the chain from the last step to the first, adding each step's contribution to
the shared weights. Weights, gate order and defaults are Keras's (``SimpleRNN``, ``LSTM``, ``GRU`` with
``reset_after=True``), so ``keras_layer.set_weights(layer.get_weights())`` gives the same network:

* ``kernel`` (features, G·units) multiplies the input x_t, ``recurrent_kernel`` (units, G·units) the state
  h_{t−1}, and ``bias`` is (G·units,) — (2, 3·units) for the GRU, whose recurrent half has its own bias —
  with G = 1 (RNN), 4 (LSTM: gates i, f, c̃, o) or 3 (GRU: gates z, r, h̃).
* parameters: G · (features · units + units · units + units), plus G · units for the GRU's second bias.

>>> import numpy as np
>>> lstm = LSTM(8)
>>> lstm.build((28, 28), np.random.default_rng(0))     # 28 steps of 28 features: MNIST row by row
(8,)
>>> lstm.count_params()                                 # 4 × (28·8 + 8·8 + 8)
1184
>>> x = np.random.default_rng(1).normal(size=(2, 28, 28))
>>> lstm.forward(x).shape, lstm.backward(np.ones((2, 8))).shape
((2, 8), (2, 28, 28))
"""

from __future__ import annotations

import numpy as np

from labkit._validation import check_int
from labkit.nn import initializers as inits
from labkit.nn.layers import Layer

__all__ = ["Recurrent", "SimpleRNN", "LSTM", "GRU", "input_gradient_norms", "gradient_study", "memory_cell_lstm"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


class Recurrent(Layer):
    """Shared machinery: the input projection for every step at once, the loop over time forward and backward.

    A subclass sets ``gates`` and writes one cell: ``_step(xz_t, state) → (state, cache)`` and
    ``_step_back(dstate, cache, grads) → (dxz_t, dstate_prev)``, where ``xz_t = x_t W + b`` and ``state`` is a
    tuple whose first entry is the hidden state h.
    """

    gates = 1

    def __init__(self, units: int, *, return_sequences: bool = False, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros"):
        super().__init__()
        self.units = check_int("units", units)
        self.return_sequences = bool(return_sequences)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.recurrent_initializer = inits.get(recurrent_initializer)
        self.bias_initializer = inits.get(bias_initializer)

    # -- building ---------------------------------------------------------------------------------------
    def build(self, input_shape, rng, dtype=np.float64):
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} takes sequences (n, steps, features) but was given shape "
                             f"{(None, *input_shape)}; reshape to (n, steps, features).")
        width = self.gates * self.units
        self.params["kernel"] = self.kernel_initializer((input_shape[1], width), rng).astype(dtype)
        self.params["recurrent_kernel"] = self.recurrent_initializer((self.units, width), rng).astype(dtype)
        self.params["bias"] = self._initial_bias(rng).astype(dtype)
        return super().build(input_shape, rng, dtype)

    def _initial_bias(self, rng) -> np.ndarray:
        return self.bias_initializer((self.gates * self.units,), rng)

    def _output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def get_weights(self) -> list[np.ndarray]:
        """``[kernel, recurrent_kernel, bias]``: the order of the Keras layer's ``get_weights``."""
        return [self.params[k] for k in ("kernel", "recurrent_kernel", "bias")]

    # -- one cell (subclasses) ----------------------------------------------------------------------------
    def _input_bias(self) -> np.ndarray:
        return self.params["bias"]

    def _initial_state(self, n: int, dtype) -> tuple[np.ndarray, ...]:
        return (np.zeros((n, self.units), dtype),)

    def _step(self, xz, state):
        raise NotImplementedError

    def _step_back(self, dstate, cache, grads):
        raise NotImplementedError

    # -- the unrolled chain -------------------------------------------------------------------------------
    def _sequences(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3 or (self.input_shape is not None and x.shape[2] != self.input_shape[1]):
            want = self.input_shape[1] if self.input_shape is not None else "features"
            raise ValueError(f"{type(self).__name__} expects inputs of shape (n, steps, {want}), got {x.shape}.")
        if x.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} needs sequences of at least one step.")
        return x

    def forward(self, x, *, training=False):
        """Run the cell over every step; return the last hidden state, or all of them with ``return_sequences``."""
        x = self._sequences(x)
        n, steps, _ = x.shape
        xz = x @ self.params["kernel"] + self._input_bias()          # every step's input projection at once
        state = self._initial_state(n, xz.dtype)
        hs = np.empty((n, steps, self.units), xz.dtype)
        caches = []
        for t in range(steps):
            state, cache = self._step(xz[:, t], state)
            hs[:, t] = state[0]
            caches.append(cache)
        self._cache = (x, caches)
        return hs if self.return_sequences else hs[:, -1]

    def backward(self, grad):
        """Backpropagation through time: from the last step to the first, summing each step's weight gradients."""
        x, caches = self._cache
        n, steps, features = x.shape
        dh_out = np.zeros((n, steps, self.units), grad.dtype)
        if self.return_sequences:
            dh_out[:] = grad
        else:
            dh_out[:, -1] = grad
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        dxz = np.empty((n, steps, self.gates * self.units), grad.dtype)
        dstate = tuple(np.zeros((n, self.units), grad.dtype) for _ in self._initial_state(0, grad.dtype))
        for t in reversed(range(steps)):
            dstate = (dstate[0] + dh_out[:, t], *dstate[1:])
            dxz[:, t], dstate = self._step_back(dstate, caches[t], grads)
        grads["kernel"] = x.reshape(-1, features).T @ dxz.reshape(-1, dxz.shape[2])
        input_bias = dxz.sum(axis=(0, 1))
        if grads["bias"].ndim == 2:      # the GRU: row 0 is the input bias, row 1 was filled by the steps
            grads["bias"][0] = input_bias
        else:
            grads["bias"] = input_bias
        self.grads = grads
        return dxz @ self.params["kernel"].T

    def __repr__(self):
        return f"{type(self).__name__}({self.units}, return_sequences={self.return_sequences})"


class SimpleRNN(Recurrent):
    """The vanilla (Elman) RNN: h_t = tanh(x_t W + h_{t−1} U + b).

    BPTT through one step: δ = ∂L/∂h_t ⊙ (1 − h_t²), then ∂L/∂U += h_{t−1}ᵀ δ, ∂L/∂h_{t−1} = δ Uᵀ. Over k
    steps the gradient is multiplied k times by Uᵀ and the tanh derivative: it vanishes when those factors
    are below 1 and explodes when they are above.
    """

    gates = 1

    def _step(self, xz, state):
        (h_prev,) = state
        h = np.tanh(xz + h_prev @ self.params["recurrent_kernel"])
        return (h,), (h_prev, h)

    def _step_back(self, dstate, cache, grads):
        (dh,) = dstate
        h_prev, h = cache
        dz = dh * (1 - h ** 2)
        grads["recurrent_kernel"] += h_prev.T @ dz
        return dz, (dz @ self.params["recurrent_kernel"].T,)


class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997) with Keras's gate order i, f, c̃, o:

    i, f, o = σ(·), c̃ = tanh(·) of x_t W + h_{t−1} U + b (one block of ``units`` columns each);
    c_t = f ⊙ c_{t−1} + i ⊙ c̃ and h_t = o ⊙ tanh(c_t).

    The cell state c carries information along an additive path: ∂c_t/∂c_{t−1} = f, which the network can hold
    near 1, so gradients survive many steps. ``unit_forget_bias`` starts the forget gate's bias at 1, as Keras.
    After ``forward``, :meth:`trace` returns the gates and states of every step.
    """

    gates = 4

    def __init__(self, units: int, *, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    def _initial_bias(self, rng):
        bias = super()._initial_bias(rng)
        if self.unit_forget_bias:
            bias[self.units:2 * self.units] = 1.0
        return bias

    def _initial_state(self, n, dtype):
        return (np.zeros((n, self.units), dtype), np.zeros((n, self.units), dtype))

    def _step(self, xz, state):
        h_prev, c_prev = state
        u = self.units
        z = xz + h_prev @ self.params["recurrent_kernel"]
        i, f, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), _sigmoid(z[:, 3 * u:])
        g = np.tanh(z[:, 2 * u:3 * u])
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), (h_prev, c_prev, i, f, g, o, c, tanh_c)

    def _step_back(self, dstate, cache, grads):
        dh, dc = dstate
        h_prev, c_prev, i, f, g, o, _, tanh_c = cache
        dc = dc + dh * o * (1 - tanh_c ** 2)
        dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                             dh * tanh_c * o * (1 - o)], axis=1)
        grads["recurrent_kernel"] += h_prev.T @ dz
        return dz, (dz @ self.params["recurrent_kernel"].T, dc * f)

    def trace(self) -> dict[str, np.ndarray]:
        """The last forward pass, step by step: ``input``, ``forget``, ``candidate``, ``output`` gates, cell
        state ``c`` and hidden state ``h``, each of shape (n, steps, units)."""
        if not hasattr(self, "_cache"):
            raise RuntimeError("call forward(x) first: trace() reports the last forward pass.")
        _, caches = self._cache
        names = {"input": 2, "forget": 3, "candidate": 4, "output": 5, "c": 6}
        out = {name: np.stack([cache[k] for cache in caches], axis=1) for name, k in names.items()}
        out["h"] = out["output"] * np.tanh(out["c"])
        return out


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al., 2014) as Keras computes it (``reset_after=True``), gates z, r, h̃:

    z = σ(x W_z + b_z + h U_z + b'_z), r = σ(x W_r + b_r + h U_r + b'_r),
    h̃ = tanh(x W_h + b_h + r ⊙ (h U_h + b'_h)), h_t = z ⊙ h_{t−1} + (1 − z) ⊙ h̃.

    Three gates instead of four, no separate cell state; ``bias`` is (2, 3·units): input and recurrent biases.
    """

    gates = 3

    def _initial_bias(self, rng):
        return self.bias_initializer((2, 3 * self.units), rng)

    def _input_bias(self):
        return self.params["bias"][0]

    def _step(self, xz, state):
        (h_prev,) = state
        u = self.units
        rz = h_prev @ self.params["recurrent_kernel"] + self.params["bias"][1]
        z = _sigmoid(xz[:, :u] + rz[:, :u])
        r = _sigmoid(xz[:, u:2 * u] + rz[:, u:2 * u])
        candidate = np.tanh(xz[:, 2 * u:] + r * rz[:, 2 * u:])
        h = z * h_prev + (1 - z) * candidate
        return (h,), (h_prev, z, r, candidate, rz[:, 2 * u:])

    def _step_back(self, dstate, cache, grads):
        (dh,) = dstate
        h_prev, z, r, candidate, rz_h = cache
        da_z = dh * (h_prev - candidate) * z * (1 - z)
        da_h = dh * (1 - z) * (1 - candidate ** 2)
        da_r = da_h * rz_h * r * (1 - r)
        drz = np.concatenate([da_z, da_r, da_h * r], axis=1)
        grads["recurrent_kernel"] += h_prev.T @ drz
        grads["bias"][1] += drz.sum(axis=0)
        dh_prev = dh * z + drz @ self.params["recurrent_kernel"].T
        return np.concatenate([da_z, da_r, da_h], axis=1), (dh_prev,)


def input_gradient_norms(layer: Recurrent, x: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """How much the last output still feels each input: the mean over the batch of ‖∂(v · h_T)/∂x_t‖ for every
    step t, with v a fixed random unit vector. Index ``k`` of the result is ``k`` steps back from the end, so a
    vanishing gradient shows as a curve falling towards 0 as ``k`` grows.

    >>> import numpy as np
    >>> rnn = SimpleRNN(16)
    >>> _ = rnn.build((50, 1), np.random.default_rng(0))
    >>> norms = input_gradient_norms(rnn, np.random.default_rng(1).normal(size=(8, 50, 1)))
    >>> norms.shape, bool(norms[0] > 100 * norms[-1])
    ((50,), True)
    """
    was = layer.return_sequences
    layer.return_sequences = False
    try:
        x = layer._sequences(x)
        v = np.random.default_rng(seed).normal(size=layer.units)
        v /= np.linalg.norm(v)
        layer.forward(x)
        dx = layer.backward(np.tile(v, (len(x), 1)).astype(x.dtype))
    finally:
        layer.return_sequences = was
    return np.linalg.norm(dx, axis=2).mean(axis=0)[::-1]


def gradient_study(*, steps: int = 100, units: int = 32, gains=(0.5, 1.0, 1.5, 3.0), forget_biases=(0.0, 1.0, 3.0, 5.0),
                   batch: int = 16, seed: int = 0) -> dict[str, dict[float, np.ndarray]]:
    """The vanishing/exploding-gradient experiment: :func:`input_gradient_norms` over ``steps`` steps of noise for
    a tanh RNN whose Keras-initialised (orthogonal) recurrent kernel is multiplied by each of ``gains``, and for an
    LSTM whose forget-gate bias is set to each of ``forget_biases``. Returns
    ``{"SimpleRNN": {gain: norms}, "LSTM": {bias: norms}}``.

    >>> study = gradient_study(steps=30, units=8, gains=(1.0,), forget_biases=(3.0,))
    >>> sorted(study), study["LSTM"][3.0].shape
    (['LSTM', 'SimpleRNN'], (30,))
    """
    x = np.random.default_rng(seed).normal(size=(batch, steps, 1))
    out: dict[str, dict[float, np.ndarray]] = {"SimpleRNN": {}, "LSTM": {}}
    for gain in gains:
        rnn = SimpleRNN(units)
        rnn.build((steps, 1), np.random.default_rng(seed))
        rnn.params["recurrent_kernel"] *= gain
        out["SimpleRNN"][float(gain)] = input_gradient_norms(rnn, x, seed=seed)
    for bias in forget_biases:
        lstm = LSTM(units)
        lstm.build((steps, 1), np.random.default_rng(seed))
        lstm.params["bias"][units:2 * units] = bias
        out["LSTM"][float(bias)] = input_gradient_norms(lstm, x, seed=seed)
    return out


def memory_cell_lstm(strength: float = 8.0, dtype=np.float64) -> LSTM:
    """A one-unit LSTM with hand-set weights that works as a memory cell, to watch the gates at work.

    Inputs per step: ``(value, write)``. When ``write`` is 1 the input gate opens and the forget gate closes, so
    the cell state becomes tanh(value); when ``write`` is 0 the input gate closes and the forget gate stays open,
    so the cell *holds* what it stored. The output gate is always open. ``strength`` is how hard the gates switch
    (σ(±strength)).

    >>> lstm = memory_cell_lstm()
    >>> x = np.array([[[0.5, 1], [-0.9, 0], [0.1, 0], [-0.7, 1], [0.3, 0]]])
    >>> _ = lstm.forward(x)
    >>> np.round(lstm.trace()["c"][0, :, 0], 2).tolist()    # stores tanh 0.5, holds it, stores tanh −0.7
    [0.46, 0.46, 0.46, -0.6, -0.6]
    """
    s = float(strength)
    lstm = LSTM(1)
    lstm.build((None, 2), np.random.default_rng(0), dtype)
    # columns: input gate, forget gate, candidate, output gate; rows: value, write
    lstm.params["kernel"][...] = [[0.0, 0.0, 1.0, 0.0], [2 * s, -2 * s, 0.0, 0.0]]
    lstm.params["recurrent_kernel"][...] = 0.0
    lstm.params["bias"][...] = [-s, s, 0.0, s]
    return lstm
