"""Collective communication on simulated workers: every byte counted, every step recorded.

Data-parallel training ends each mini-batch with an **all-reduce**: every worker holds a gradient of M bytes
and every worker needs their sum. How the sum is formed decides who becomes the bottleneck:

* **parameter server** (centralised): each worker sends its M bytes to one server, which sends the sum back.
  2 steps, but the server receives N × M and sends N × M bytes: the hot spot grows with N.
* **ring all-reduce** (decentralised, what Horovod and NCCL use): the vector is cut into N chunks and passed
  around a ring, N − 1 steps of **reduce-scatter** (each worker adds the chunk it receives to its own) then
  N − 1 steps of **all-gather** (each worker forwards a finished chunk). Every worker sends and receives
  2 (N − 1) / N × M bytes, almost independent of N: bandwidth-optimal.
* **binomial tree**: sums flow up a tree in ⌈log₂ N⌉ steps and the result flows back down in as many; few
  steps (good for small, latency-bound messages), but each message carries all M bytes.

:class:`Network` is the simulated interconnect: ``send`` hands the receiver a copy and counts its bytes,
``next_step`` closes a communication step (all sends of one step happen at the same time on a real network).
The algorithms below use nothing else, so their traffic is measured, not computed from a formula.

>>> import numpy as np
>>> grads = [np.full(8, float(w)) for w in range(4)]            # 4 workers, 8 float64 values = 64 bytes each
>>> net = Network(4)
>>> [r.tolist() for r in ring_allreduce(grads, net)][0]
[6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0]
>>> net.bytes_sent.tolist(), net.n_steps                        # 2 (N − 1) / N × 64 = 96 bytes, 2 (N − 1) steps
([96, 96, 96, 96], 6)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from labkit._validation import check_int

__all__ = ["Message", "Network", "CollectiveResult", "ALGORITHMS", "allreduce", "parameter_server_allreduce",
           "ring_allreduce", "tree_allreduce", "ring_chunk", "communication_time"]


@dataclass(frozen=True)
class Message:
    """One array sent from node ``src`` to node ``dst`` during communication step ``step``."""

    step: int
    src: int
    dst: int
    nbytes: int
    phase: str = ""
    chunk: int | None = None


class Network:
    """``n_nodes`` simulated nodes that exchange NumPy arrays; it counts bytes per node and steps.

    ``names`` label the nodes in figures (default ``w0``, ``w1``, …).

    >>> net = Network(2)
    >>> received = net.send(0, 1, np.zeros(3, dtype=np.float32))
    >>> net.next_step()
    >>> net.bytes_sent.tolist(), net.bytes_received.tolist(), net.n_steps
    ([12, 0], [0, 12], 1)
    """

    def __init__(self, n_nodes: int, *, names: Sequence[str] | None = None):
        self.n_nodes = check_int("n_nodes", n_nodes)
        self.names = list(names) if names is not None else [f"w{i}" for i in range(self.n_nodes)]
        if len(self.names) != self.n_nodes:
            raise ValueError(f"names has {len(self.names)} entries for {self.n_nodes} nodes.")
        self.reset()

    def reset(self) -> None:
        """Forget all traffic."""
        self.bytes_sent = np.zeros(self.n_nodes, dtype=np.int64)
        self.bytes_received = np.zeros(self.n_nodes, dtype=np.int64)
        self.messages: list[Message] = []
        self.step = 0

    def _check_node(self, name: str, node) -> int:
        return check_int(f"{name} (a node index)", node, minimum=0, maximum=self.n_nodes - 1)

    def send(self, src: int, dst: int, payload, *, phase: str = "", chunk: int | None = None) -> np.ndarray:
        """Send ``payload`` from ``src`` to ``dst`` in the current step; return what ``dst`` receives (a copy)."""
        src, dst = self._check_node("src", src), self._check_node("dst", dst)
        if src == dst:
            raise ValueError(f"node {src} sends to itself: local data needs no network, just use it.")
        data = np.array(payload, copy=True)
        if data.dtype == object:
            raise ValueError("payload must be a numeric array, got Python objects.")
        self.bytes_sent[src] += data.nbytes
        self.bytes_received[dst] += data.nbytes
        self.messages.append(Message(self.step, src, dst, int(data.nbytes), phase, chunk))
        return data

    def next_step(self) -> None:
        """End the current communication step (a no-op if nothing was sent in it)."""
        if self.messages and self.messages[-1].step == self.step:
            self.step += 1

    @property
    def n_steps(self) -> int:
        """Number of communication steps that carried at least one message."""
        return len({m.step for m in self.messages})

    @property
    def total_bytes(self) -> int:
        """Bytes carried by the whole network."""
        return int(self.bytes_sent.sum())

    def hot_spot(self) -> int:
        """The busiest node's traffic in one direction: max over nodes of max(bytes sent, bytes received)."""
        return int(np.maximum(self.bytes_sent, self.bytes_received).max())

    def __repr__(self) -> str:
        return f"Network(n_nodes={self.n_nodes}, steps={self.n_steps}, total_bytes={self.total_bytes})"


def _check_arrays(arrays) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, Sequence) or len(arrays) == 0:
        raise ValueError("arrays must be a non-empty list with one array per worker.")
    out = [np.asarray(a) for a in arrays]
    shapes = {a.shape for a in out}
    if len(shapes) != 1:
        raise ValueError(f"every worker must hold an array of the same shape, got shapes {sorted(shapes)}.")
    for i, a in enumerate(out):
        if a.dtype.kind not in "biuf":
            raise ValueError(f"worker {i}'s array must hold numbers, got dtype {a.dtype}.")
    return out


def _check_network(network: Network, n_nodes: int) -> Network:
    if not isinstance(network, Network):
        raise ValueError(f"network must be a labkit.distributed.Network, got {type(network).__name__}.")
    if network.n_nodes != n_nodes:
        raise ValueError(f"this algorithm needs a Network of {n_nodes} nodes, got {network.n_nodes}.")
    return network


def _finish(flat: list[np.ndarray], shape: tuple[int, ...], n: int, average: bool) -> list[np.ndarray]:
    return [(f / n if average else f).reshape(shape) for f in flat]


def ring_chunk(worker: int, step: int, n_workers: int, *, phase: str) -> int:
    """Which chunk ``worker`` sends to its right neighbour at ``step`` (0-based) of a ring all-reduce.

    Reduce-scatter: chunk (w − s) mod N, so after N − 1 steps worker w holds the full sum of chunk (w + 1) mod N.
    All-gather: chunk (w + 1 − s) mod N, forwarding the finished chunks around the ring.

    >>> [ring_chunk(w, 0, 4, phase="reduce-scatter") for w in range(4)]
    [0, 1, 2, 3]
    >>> [ring_chunk(w, 0, 4, phase="all-gather") for w in range(4)]
    [1, 2, 3, 0]
    """
    if phase == "reduce-scatter":
        return (worker - step) % n_workers
    if phase == "all-gather":
        return (worker + 1 - step) % n_workers
    raise ValueError(f"phase must be 'reduce-scatter' or 'all-gather', got {phase!r}.")


def ring_allreduce(arrays, network: Network | None = None, *, average: bool = False) -> list[np.ndarray]:
    """Sum (or ``average``) one array per worker with ring all-reduce; worker w's neighbour is (w + 1) mod N.

    The flattened array is cut into N chunks with ``np.array_split`` (sizes differ by at most one element when
    N does not divide it). Pass a ``Network(N)`` to inspect the traffic afterwards.

    >>> out = ring_allreduce([np.arange(5.0), np.ones(5)])
    >>> out[0].tolist() == out[1].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    True
    """
    arrays = _check_arrays(arrays)
    n = len(arrays)
    net = _check_network(network if network is not None else Network(n), n)
    dtype = np.result_type(*arrays)
    chunks = [np.array_split(a.astype(dtype).ravel(), n) for a in arrays]
    for step in range(n - 1):
        for w in range(n):
            c = ring_chunk(w, step, n, phase="reduce-scatter")
            received = net.send(w, (w + 1) % n, chunks[w][c], phase="reduce-scatter", chunk=c)
            chunks[(w + 1) % n][c] = chunks[(w + 1) % n][c] + received
        net.next_step()
    for step in range(n - 1):
        for w in range(n):
            c = ring_chunk(w, step, n, phase="all-gather")
            chunks[(w + 1) % n][c] = net.send(w, (w + 1) % n, chunks[w][c], phase="all-gather", chunk=c)
        net.next_step()
    return _finish([np.concatenate(ch) for ch in chunks], arrays[0].shape, n, average)


def parameter_server_allreduce(arrays, network: Network | None = None, *, average: bool = False) -> list[np.ndarray]:
    """Sum (or ``average``) through a central parameter server: node N of a ``Network(N + 1)``.

    Step 1, every worker pushes its array; step 2, the server sends the sum back to every worker.

    >>> net = Network(3 + 1, names=["w0", "w1", "w2", "server"])
    >>> _ = parameter_server_allreduce([np.ones(4)] * 3, net)       # 32 bytes each
    >>> net.bytes_received.tolist()                                  # the server receives N × M
    [32, 32, 32, 96]
    """
    arrays = _check_arrays(arrays)
    n = len(arrays)
    net = _check_network(network if network is not None else Network(n + 1), n + 1)
    dtype = np.result_type(*arrays)
    total = np.zeros(arrays[0].size, dtype=dtype)
    for w, a in enumerate(arrays):
        total = total + net.send(w, n, a.astype(dtype).ravel(), phase="push")
    net.next_step()
    result = [net.send(n, w, total, phase="pull") for w in range(n)]
    net.next_step()
    return _finish(result, arrays[0].shape, n, average)


def tree_allreduce(arrays, network: Network | None = None, *, average: bool = False) -> list[np.ndarray]:
    """Sum (or ``average``) with a binomial tree rooted at worker 0: ⌈log₂ N⌉ reduce steps, as many broadcast steps.

    Reduce step k: every worker w with w mod 2^(k+1) = 2^k sends its partial sum to w − 2^k. Broadcast retraces
    the tree from the root.

    >>> net = Network(5)
    >>> _ = tree_allreduce([np.ones(2)] * 5, net)
    >>> net.n_steps                                                   # 2 ⌈log₂ 5⌉
    6
    """
    arrays = _check_arrays(arrays)
    n = len(arrays)
    net = _check_network(network if network is not None else Network(n), n)
    dtype = np.result_type(*arrays)
    partial = [a.astype(dtype).ravel() for a in arrays]
    levels = int(np.ceil(np.log2(n))) if n > 1 else 0
    for k in range(levels):
        for w in range(n):
            if w % 2 ** (k + 1) == 2**k:
                partial[w - 2**k] = partial[w - 2**k] + net.send(w, w - 2**k, partial[w], phase="reduce")
        net.next_step()
    for k in reversed(range(levels)):
        for w in range(0, n, 2 ** (k + 1)):
            if w + 2**k < n:
                partial[w + 2**k] = net.send(w, w + 2**k, partial[w], phase="broadcast")
        net.next_step()
    return _finish(partial, arrays[0].shape, n, average)


ALGORITHMS: dict[str, tuple[Callable, int]] = {
    "ring": (ring_allreduce, 0),
    "parameter_server": (parameter_server_allreduce, 1),
    "tree": (tree_allreduce, 0),
}


@dataclass
class CollectiveResult:
    """What :func:`allreduce` returns: every worker's result and the network that carried it."""

    algorithm: str
    values: list[np.ndarray]
    network: Network

    @property
    def n_workers(self) -> int:
        return len(self.values)

    def worker_bytes(self) -> np.ndarray:
        """Bytes sent per worker (the server, if any, excluded)."""
        return self.network.bytes_sent[: self.n_workers].copy()


def allreduce(arrays, *, algorithm: str = "ring", average: bool = False) -> CollectiveResult:
    """Run ``algorithm`` (``"ring"``, ``"parameter_server"`` or ``"tree"``) on a fresh network.

    >>> r = allreduce([np.ones(1000, dtype=np.float32)] * 8, algorithm="parameter_server")
    >>> r.network.hot_spot() == 8 * 4000                              # the server: N × M
    True
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {sorted(ALGORITHMS)}.")
    fn, extra_nodes = ALGORITHMS[algorithm]
    arrays = _check_arrays(arrays)
    n = len(arrays)
    names = [f"w{i}" for i in range(n)] + ["server"] * extra_nodes
    net = Network(n + extra_nodes, names=names)
    values = fn(arrays, net, average=average)
    return CollectiveResult(algorithm, values, net)


def communication_time(network: Network, *, latency: float = 5e-6, bandwidth: float = 1.25e9) -> float:
    """Seconds the recorded traffic takes under the α–β model: each step costs ``latency`` (α, seconds) plus its
    busiest node's bytes (sent or received, whichever is larger) over ``bandwidth`` (β⁻¹, bytes per second).
    Defaults: 5 µs and 10 Gbit/s, a data-centre Ethernet link.

    >>> net = Network(2); _ = net.send(0, 1, np.zeros(125_000)); net.next_step()
    >>> round(communication_time(net, latency=0.0, bandwidth=1e6), 3)   # 1 MB at 1 MB/s
    1.0
    """
    if not latency >= 0 or not bandwidth > 0:
        raise ValueError(f"latency must be ≥ 0 and bandwidth > 0, got {latency!r} and {bandwidth!r}.")
    total = 0.0
    for step in sorted({m.step for m in network.messages}):
        sent = np.zeros(network.n_nodes)
        received = np.zeros(network.n_nodes)
        for m in network.messages:
            if m.step == step:
                sent[m.src] += m.nbytes
                received[m.dst] += m.nbytes
        total += latency + max(sent.max(), received.max()) / bandwidth
    return total
