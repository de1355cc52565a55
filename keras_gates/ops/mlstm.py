"""The mLSTM's matrix memory in its three forms: one home of its equations.

The memory of one head, with keys and queries of `dk` features and values
of `dv`, from the pre-activations `i~`, `f~` (one scalar per head and step)
and `q`, `k`, `v`:

```
log f_t = log σ(f~_t)
m_t  = max(log f_t + m_{t-1}, i~_t)                  # the stabiliser
f'_t = exp(log f_t + m_{t-1} - m_t);   i'_t = exp(i~_t - m_t)
C_t  = f'_t C_{t-1} + i'_t k_t v_tᵀ                  # (dk, dv)
n_t  = f'_t n_{t-1} + i'_t k_t                       # (dk,)
h_t  = (q_t/√dk)ᵀ C_t / (max(|(q_t/√dk)ᵀ n_t|, exp(-m_t)) + 1e-6)
```

as the official mlstm-kernels compute it (their native step, parallel and
chunkwise kernels): `1/√dk` applies to the query, so the states hold the
keys unscaled, and the lower bound `exp(-m_t)` of the normaliser is 1
before stabilisation. `m` cancels from the outputs except in the `1e-6`.

- `step`: one step (streaming, export, the cell).
- `parallel`: every step at once through a `(T, T)` matrix of decays,
  quadratic in the length.
- `chunkwise`: chunks of `chunk_size` steps in the parallel form, carried
  from chunk to chunk by the recurrence of their end states: linear in the
  length.

All three take an initial state and a mask, and give the same outputs and
the same final states `(C, n, m)` (the `m` of the recurrence above, from
the initial `m`): a masked step keeps the states (`i' = 0`, `f' = 1`).
Tensors are batch-major with a head axis: `q`, `k` `(batch, heads, T,
dk)`, `v` `(batch, heads, T, dv)`, `i`, `f` `(batch, heads, T)`; states `C`
`(batch, heads, dk, dv)`, `n` `(batch, heads, dk)`, `m` `(batch, heads)`.
Not public.
"""

from keras import ops

EPSILON = 1e-6
# The log of a weight of zero: a masked step's input gate, and the decays
# above the diagonal. Finite, so that differences of two stay finite.
_LOG_ZERO = -1e30


def step(q, k, v, i, f, states):
    """One step: `q`, `k` `(batch, heads, dk)`, `v` `(batch, heads, dv)`,
    `i`, `f` `(batch, heads)`. Returns `(h, [C, n, m], (i', f'))`, `h`
    `(batch, heads, dv)`, and the stabilised gates that `keras_gates.inspect`
    reports."""
    c, n, m = states
    log_f = ops.log_sigmoid(f)
    m_new = ops.maximum(log_f + m, i)
    forget = ops.exp(log_f + m - m_new)
    write = ops.exp(i - m_new)
    c_new = forget[..., None, None] * c + write[..., None, None] * (
        k[..., :, None] * v[..., None, :]
    )
    n_new = forget[..., None] * n + write[..., None] * k
    q = q * ops.cast(ops.shape(q)[-1], q.dtype) ** -0.5
    numerator = ops.sum(q[..., :, None] * c_new, axis=-2)
    denominator = ops.sum(q * n_new, axis=-1)
    h = numerator / (
        ops.maximum(ops.abs(denominator), ops.exp(-m_new))[..., None] + EPSILON
    )
    return h, [c_new, n_new, m_new], (write, forget)


def _masked(q, k, v, i, f, valid):
    """`(q, k, v, i~, log f)` with a masked step's gates as `(log 0, log
    1)`, so that it keeps the states, and its `q`, `k`, `v` zeros, so that
    whatever the padding holds (inf, NaN) never reaches a sum. `valid`:
    None or `(batch, T)` booleans."""
    log_f = ops.log_sigmoid(f)
    if valid is None:
        return q, k, v, i, log_f
    valid = valid[:, None, :]
    i, log_f = ops.where(valid, i, _LOG_ZERO), ops.where(valid, log_f, 0.0)
    q, k, v = (ops.where(valid[..., None], x, 0.0) for x in (q, k, v))
    return q, k, v, i, log_f


def _within(q, k, v, i, log_f, c0, n0, m0):
    """The outputs of one run of steps (the last two axes `(T, features)`)
    from its start state: the parallel form. Also the log weights of each
    step in the state after the last (`a`) and of the start state in it
    (`g`)."""
    b = ops.cumsum(log_f, axis=-1)  # log decay from the start to step t
    steps = ops.shape(q)[-2]
    # j <= t; not `ops.tri`, which needs a length known when traced.
    positions = ops.arange(steps)
    causal = positions[:, None] >= positions[None, :]
    # log_d[t, j]: the log weight of step j's write at step t (j <= t).
    log_d = b[..., :, None] - b[..., None, :] + i[..., None, :]
    log_d = ops.where(causal, log_d, _LOG_ZERO)
    start = b + m0[..., None]  # the log weight of the start state at step t
    m = ops.maximum(start, ops.max(log_d, axis=-1, initial=_LOG_ZERO))
    scale = ops.cast(ops.shape(q)[-1], q.dtype) ** -0.5
    q = q * scale
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) * ops.exp(log_d - m[..., None])
    carried = ops.exp(start - m)[..., None]
    numerator = ops.matmul(scores, v) + carried * ops.matmul(q, c0)
    denominator = ops.sum(scores, axis=-1, keepdims=True) + carried * ops.matmul(
        q, n0[..., None]
    )
    h = numerator / (
        ops.maximum(ops.abs(denominator), ops.exp(-m)[..., None]) + EPSILON
    )
    g = ops.sum(log_f, axis=-1)
    a = g[..., None] - b + i
    return h, a, g


def _end_state(k, v, a, g, c0, n0, m0):
    """The state after a run of steps from its log weights (`_within`)."""
    m = ops.maximum(g + m0, ops.max(a, axis=-1, initial=_LOG_ZERO))
    weights = ops.exp(a - m[..., None])[..., None]
    carried = ops.exp(g + m0 - m)
    c = carried[..., None, None] * c0 + ops.matmul(ops.swapaxes(k * weights, -1, -2), v)
    n = carried[..., None] * n0 + ops.sum(k * weights, axis=-2)
    return c, n, m


def parallel(q, k, v, i, f, states, valid=None):
    """Every step at once: `(h, [C, n, m])`, `h` `(batch, heads, T, dv)`."""
    c0, n0, m0 = states
    q, k, v, i, log_f = _masked(q, k, v, i, f, valid)
    h, a, g = _within(q, k, v, i, log_f, c0, n0, m0)
    return h, list(_end_state(k, v, a, g, c0, n0, m0))


def chunkwise(q, k, v, i, f, states, valid=None, chunk_size=64):
    """Chunks of `chunk_size` steps in the parallel form, each from the
    state at its start; the start states by the recurrence of the chunks'
    end states. Memory and work linear in the length (times `chunk_size`).
    Returns `(h, [C, n, m])` as `parallel`."""
    c0, n0, m0 = states
    q, k, v, i, log_f = _masked(q, k, v, i, f, valid)
    steps = ops.shape(q)[-2]
    padding = (-steps) % chunk_size
    # Sizes given in full: a -1 beside an empty axis is ambiguous (ONNX).
    count = (steps + padding) // chunk_size
    # Padded steps are masked ones: they keep the state.
    i = ops.pad(i, [[0, 0], [0, 0], [0, padding]], constant_values=_LOG_ZERO)
    log_f = ops.pad(log_f, [[0, 0], [0, 0], [0, padding]])

    def chunks(x):  # (batch, heads, chunks, chunk_size, features)
        x = ops.pad(x, [[0, 0], [0, 0], [0, padding], [0, 0]])
        return ops.reshape(x, (*ops.shape(x)[:2], count, chunk_size, x.shape[-1]))

    q, k, v = chunks(q), chunks(k), chunks(v)
    i = ops.reshape(i, (*ops.shape(i)[:2], count, chunk_size))
    log_f = ops.reshape(log_f, (*ops.shape(log_f)[:2], count, chunk_size))
    # Each chunk's own end state, stabilised by its own largest weight.
    b = ops.cumsum(log_f, axis=-1)
    g = b[..., -1]
    a = g[..., None] - b + i
    a_max = ops.max(a, axis=-1)
    weights = ops.exp(a - a_max[..., None])[..., None]
    own_c = ops.matmul(ops.swapaxes(k * weights, -1, -2), v)
    own_n = ops.sum(k * weights, axis=-2)

    # The state rides the loop as one tensor (the loops carry and emit
    # tensors): C, n and m side by side per head.
    key, value = ops.shape(k)[-1], ops.shape(v)[-1]

    def pack(c, n, m):
        c = ops.reshape(c, (*ops.shape(c)[:2], key * value))
        return ops.concatenate([c, n, m[..., None]], axis=-1)

    def unpack(state):
        lead = ops.shape(state)[:-1]
        c = ops.reshape(state[..., : key * value], (*lead, key, value))
        return c, state[..., key * value : -1], state[..., -1]

    def carry_over(state, chunk):
        c, n, m = unpack(state)
        g_k, a_max_k, own_c_k, own_n_k = chunk
        m_next = ops.maximum(g_k + m, a_max_k)
        kept, added = ops.exp(g_k + m - m_next), ops.exp(a_max_k - m_next)
        c_next = kept[..., None, None] * c + added[..., None, None] * own_c_k
        n_next = kept[..., None] * n + added[..., None] * own_n_k
        return pack(c_next, n_next, m_next), state  # and the state at its start

    def chunk_major(x):
        return ops.moveaxis(x, 2, 0)

    from keras_gates.engine.loops import time_loop

    final, starts = time_loop(
        carry_over,
        tuple(chunk_major(x) for x in (g, a_max, own_c, own_n)),
        pack(c0, n0, m0),
        unroll=False,
        return_all=True,
    )
    final = unpack(final)
    starts = unpack(ops.moveaxis(starts, 0, 2))
    c_s, n_s, m_s = starts
    h, _, _ = _within(q, k, v, i, log_f, c_s, n_s, m_s)
    h = ops.reshape(h, (*ops.shape(h)[:2], count * chunk_size, h.shape[-1]))
    return h[:, :, :steps], list(final)
