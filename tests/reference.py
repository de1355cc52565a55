"""Independent NumPy references of the cells, written from the cells'
contract: docs/contract.md (the documentation site's page "The cells'
contract"), whose equations and weight names they follow.

Each `*_step` takes one time step `x` of shape (batch, input_dim), the
previous states, and the weights as a dict keyed by the names of the contract
(`kernel`, `recurrent_kernel`, `bias`, `input_peephole`, ...; a missing key
means the weight is absent). Optional `x_mask` / `state_mask` are dropout
masks, already scaled, multiplied into the input of the input projection and
into the recurrent state where it enters the recurrent projection (or the
gates, for the SRU). Each returns `(output, new_states, gates)`, `gates` a
dict of the gate values by the names of `keras_gates.inspect`. Everything is
float64. `activation` and `recurrent_activation` take NumPy functions
(`ACTIVATIONS` maps Keras' names to them).

`run_rnn` applies a step over a sequence with Keras' semantics for masks
(a masked step keeps the states and repeats the previous output, zeros before
the first valid step, or outputs zeros with `zero_output_for_mask`) and for
`go_backwards` (the sequence is read from the end and the outputs are returned
in processing order).
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hard_sigmoid(x):
    """Keras 3's: relu6(x + 3) / 6."""
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def relu(x):
    return np.maximum(x, 0.0)


# Keras activation names to their NumPy references ("linear": None, the
# identity, as the SRU's `activation` argument takes it).
ACTIVATIONS = {
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "tanh": np.tanh,
    "relu": relu,
    "linear": None,
}


def _blocks(a, n):
    return np.split(a, n, axis=-1)


def _bias(w, n_blocks, units):
    b = w.get("bias")
    return np.zeros(n_blocks * units) if b is None else b


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def _lstm_products(x, h, w, blocks, x_mask, state_mask, epsilon):
    """`x @ kernel` and `h @ recurrent_kernel`, each layer-normalized when `w`
    has its norm weights, plus the bias."""
    units = w["kernel"].shape[-1] // blocks
    xin = x if x_mask is None else x * x_mask
    hin = h if state_mask is None else h * state_mask
    z_x = xin @ w["kernel"]
    z_h = hin @ w["recurrent_kernel"]
    if "kernel_norm_gamma" in w:
        z_x = layer_norm(z_x, w["kernel_norm_gamma"], w["kernel_norm_beta"], epsilon)
        z_h = layer_norm(
            z_h, w["recurrent_norm_gamma"], w["recurrent_norm_beta"], epsilon
        )
    return z_x + z_h + _bias(w, blocks, units)


def _lstm_output(c_new, z_o, w, *, cell_clip, projection_clip, epsilon, act, rec):
    """The shared end of an LSTM step: state norm, clip, the output gate
    (peeping at the new state), the output and its projection."""
    units = c_new.shape[-1]
    if "state_norm_gamma" in w:
        c_new = layer_norm(c_new, w["state_norm_gamma"], w["state_norm_beta"], epsilon)
    if cell_clip is not None:
        c_new = np.clip(c_new, -cell_clip, cell_clip)
    o = rec(z_o + w.get("output_peephole", np.zeros(units)) * c_new)
    h_new = o * act(c_new)
    if "projection_kernel" in w:
        h_new = h_new @ w["projection_kernel"]
        if projection_clip is not None:
            h_new = np.clip(h_new, -projection_clip, projection_clip)
    return h_new, c_new, o


def peephole_lstm_step(
    x,
    states,
    w,
    *,
    cell_clip=None,
    projection_clip=None,
    norm_epsilon=1e-3,
    activation=np.tanh,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """Also LSTMP (`projection_kernel` in `w`) and tensorflow-addons'
    LayerNormLSTMCell (the `*_norm_gamma`/`_beta` weights in `w`)."""
    h, c = states
    units = c.shape[-1]
    z = _lstm_products(x, h, w, 4, x_mask, state_mask, norm_epsilon)
    z_i, z_f, z_c, z_o = _blocks(z, 4)
    p_i = w.get("input_peephole", np.zeros(units))
    p_f = w.get("forget_peephole", np.zeros(units))
    i = recurrent_activation(z_i + p_i * c)
    f = recurrent_activation(z_f + p_f * c)
    g = activation(z_c)
    c_new = f * c + i * g
    h_new, c_new, o = _lstm_output(
        c_new,
        z_o,
        w,
        cell_clip=cell_clip,
        projection_clip=projection_clip,
        epsilon=norm_epsilon,
        act=activation,
        rec=recurrent_activation,
    )
    return h_new, [h_new, c_new], {"input": i, "forget": f, "output": o}


def lstm_variant_step(
    x,
    states,
    w,
    *,
    gates=("input", "forget", "output"),
    input_activation=np.tanh,
    output_activation=np.tanh,
    full_gate_recurrence=False,
    cell_clip=None,
    projection_clip=None,
    norm_epsilon=1e-3,
    activation=None,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """Greff et al. (2017), section 2 and the variants of their section 3:
    a gate not in `gates` is the constant 1 and has no block in the fused
    weights (NIG, NFG, NOG); `input_activation` is g and `output_activation`
    h (the identity: NIAF, NOAF); a missing peephole vector is no peephole
    (NP); with `full_gate_recurrence` (FGR) the gates of the previous step,
    the third state, feed every gate through `gate_recurrent_kernel`."""
    del activation  # the two activations are given separately
    h, c = states[0], states[1]
    units = c.shape[-1]
    blocks = [
        b for b in ("input", "forget", "cell", "output") if b == "cell" or b in gates
    ]
    z = dict(
        zip(
            blocks,
            _blocks(
                _lstm_products(x, h, w, len(blocks), x_mask, state_mask, norm_epsilon),
                len(blocks),
            ),
            strict=False,
        )
    )
    if full_gate_recurrence:
        from_gates = _blocks(states[2] @ w["gate_recurrent_kernel"], len(gates))
        for gate, part in zip(gates, from_gates, strict=False):
            z[gate] = z[gate] + part
    zero = np.zeros(units)
    one = np.ones_like(c)
    i = (
        recurrent_activation(z["input"] + w.get("input_peephole", zero) * c)
        if "input" in gates
        else one
    )
    f = (
        recurrent_activation(z["forget"] + w.get("forget_peephole", zero) * c)
        if "forget" in gates
        else one
    )
    g = input_activation(z["cell"])
    c_new = i * g + f * c
    if "state_norm_gamma" in w:
        c_new = layer_norm(
            c_new, w["state_norm_gamma"], w["state_norm_beta"], norm_epsilon
        )
    if cell_clip is not None:
        c_new = np.clip(c_new, -cell_clip, cell_clip)
    if "output" in gates:
        o = recurrent_activation(z["output"] + w.get("output_peephole", zero) * c_new)
    else:
        o = one
    h_new = output_activation(c_new) * o
    if "projection_kernel" in w:
        h_new = h_new @ w["projection_kernel"]
        if projection_clip is not None:
            h_new = np.clip(h_new, -projection_clip, projection_clip)
    out_gates = {"input": i, "forget": f, "output": o}
    out_gates = {name: out_gates[name] for name in gates}
    new_states = [h_new, c_new]
    if full_gate_recurrence:
        new_states.append(np.concatenate([out_gates[name] for name in gates], axis=-1))
    return h_new, new_states, out_gates


def coupled_lstm_step(
    x,
    states,
    w,
    *,
    cell_clip=None,
    projection_clip=None,
    norm_epsilon=1e-3,
    activation=np.tanh,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    h, c = states
    units = c.shape[-1]
    z = _lstm_products(x, h, w, 3, x_mask, state_mask, norm_epsilon)
    z_i, z_c, z_o = _blocks(z, 3)
    p_i = w.get("input_peephole", np.zeros(units))
    i = recurrent_activation(z_i + p_i * c)
    f = 1.0 - i
    c_new = f * c + i * activation(z_c)
    h_new, c_new, o = _lstm_output(
        c_new,
        z_o,
        w,
        cell_clip=cell_clip,
        projection_clip=projection_clip,
        epsilon=norm_epsilon,
        act=activation,
        rec=recurrent_activation,
    )
    return h_new, [h_new, c_new], {"input": i, "forget": f, "output": o}


def minimal_gru_step(
    x,
    states,
    w,
    *,
    reset=True,
    activation=np.tanh,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    (h,) = states
    units = h.shape[-1]
    xin = x if x_mask is None else x * x_mask
    hin = h if state_mask is None else h * state_mask
    k_f, k_h = _blocks(w["kernel"], 2)
    r_f, r_h = _blocks(w["recurrent_kernel"], 2)
    b_f, b_h = _blocks(_bias(w, 2, units), 2)
    f = recurrent_activation(xin @ k_f + hin @ r_f + b_f)
    if reset:
        cand = activation(xin @ k_h + (f * hin) @ r_h + b_h)
    else:
        cand = activation(xin @ k_h + hin @ r_h + b_h)
    h_new = (1.0 - f) * h + f * cand
    return h_new, [h_new], {"forget": f}


def sru_step(
    x,
    states,
    w,
    *,
    activation=None,
    recurrent_activation=sigmoid,
    highway="auto",
    scale=1.0,
    normalize_after=False,
    norm_epsilon=1e-5,
    x_mask=None,
    state_mask=None,
):
    """`highway`: "auto" (a projection block when the kernel has one, else
    the identity), None (no skip term), "first_half" / "second_half" (that
    half of `x`). `scale` multiplies an identity highway (the official
    `rescale`). With `norm_gamma`/`norm_beta` in `w`, `x` is layer-normalized
    before the product, or the output with `normalize_after`; with
    `projection_kernel`, the product is `(x @ projection_kernel) @ kernel`."""
    (c,) = states
    units = c.shape[-1]
    g = (lambda a: a) if activation is None else activation
    norm = "norm_gamma" in w
    xin = x
    if norm and not normalize_after:
        xin = layer_norm(xin, w["norm_gamma"], w["norm_beta"], norm_epsilon)
    if x_mask is not None:
        xin = xin * x_mask
    if "projection_kernel" in w:
        xin = xin @ w["projection_kernel"]
    u = xin @ w["kernel"]
    if u.shape[-1] == 4 * units:
        u_x, u_f, u_r, x_prime = _blocks(u, 4)
    else:
        u_x, u_f, u_r = _blocks(u, 3)
        # The identity highway sees the raw input: undropped, unnormalized.
        x_prime = {
            None: None,
            "auto": x,
            "first_half": x[:, :units],
            "second_half": x[:, units:],
        }[highway]
        if x_prime is not None:
            x_prime = x_prime * scale
    v = w.get("recurrent_kernel", np.zeros((2, units)))
    cin = c if state_mask is None else c * state_mask
    b_f, b_r = _blocks(_bias(w, 2, units), 2)
    f = recurrent_activation(u_f + v[0] * cin + b_f)
    r = recurrent_activation(u_r + v[1] * cin + b_r)
    c_new = f * c + (1.0 - f) * u_x
    h_new = r * g(c_new)
    if x_prime is not None:
        h_new = h_new + (1.0 - r) * x_prime
    if norm and normalize_after:
        h_new = layer_norm(h_new, w["norm_gamma"], w["norm_beta"], norm_epsilon)
    return h_new, [c_new], {"forget": f, "reset": r}


def sru_rescale(highway_bias):
    """The official SRU's rescale factor, sqrt(1 + 2 exp(highway_bias))."""
    return np.sqrt(1.0 + 2.0 * np.exp(highway_bias))


def positive_g(x):
    """Feng et al.'s g: x + 0.5 for x >= 0, sigmoid(x) otherwise."""
    return np.where(x >= 0, x + 0.5, sigmoid(x))


def min_gru_step(
    x,
    states,
    w,
    *,
    log_space=False,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """With `log_space`, the candidate passes through `positive_g`; with
    `projection_kernel` in `w`, the output is `h @ projection_kernel`."""
    (h,) = states
    units = h.shape[-1]
    xin = x if x_mask is None else x * x_mask
    k_z, k_h = _blocks(w["kernel"], 2)
    b_z, b_h = _blocks(_bias(w, 2, units), 2)
    z = recurrent_activation(xin @ k_z + b_z)
    candidate = xin @ k_h + b_h
    if log_space:
        candidate = positive_g(candidate)
    h_new = (1.0 - z) * h + z * candidate
    out = h_new @ w["projection_kernel"] if "projection_kernel" in w else h_new
    return out, [h_new], {"update": z}


def min_lstm_step(
    x,
    states,
    w,
    *,
    log_space=False,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """Feng et al.'s minLSTM: gates f, i of the input, normalised to sum to
    one (0 each where both are 0); with `log_space`, the candidate
    through `positive_g`; with `projection_kernel` in `w`, the output is
    `h @ projection_kernel`."""
    (h,) = states
    units = h.shape[-1]
    xin = x if x_mask is None else x * x_mask
    k_f, k_i, k_h = _blocks(w["kernel"], 3)
    b_f, b_i, b_h = _blocks(_bias(w, 3, units), 3)
    f = recurrent_activation(xin @ k_f + b_f)
    i = recurrent_activation(xin @ k_i + b_i)
    total = f + i
    with np.errstate(invalid="ignore", divide="ignore"):
        f_norm = np.where(total > 0, f / total, 0.0)
        i_norm = np.where(total > 0, i / total, 0.0)
    candidate = xin @ k_h + b_h
    if log_space:
        candidate = positive_g(candidate)
    h_new = f_norm * h + i_norm * candidate
    out = h_new @ w["projection_kernel"] if "projection_kernel" in w else h_new
    return out, [h_new], {"forget": f_norm, "input": i_norm}


def slstm_step(
    x,
    states,
    w,
    *,
    num_heads,
    exponential_forget_gate=False,
    activation=np.tanh,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """xLSTM's sLSTM (Beck et al., 2024, eqs. 8-17, with the stabiliser of
    eqs. 15-17): pre-activations i, f, z, o of `x @ kernel` (or of `x`
    itself without a kernel) and of the block-diagonal `h @ R`, head by
    head; `m = i` where `n = 0`, and there the forget gate capped at 1
    (as the official code). Reports the stabilised input and forget
    gates, the output gate and the states n and m."""
    h, c, n, m = states
    batch, units = h.shape
    size = units // num_heads
    xin = x if x_mask is None else x * x_mask
    hin = h if state_mask is None else h * state_mask
    pre = xin @ w["kernel"] if "kernel" in w else np.array(xin, np.float64)
    recurrent = np.zeros((batch, 4, units))
    for head in range(num_heads):
        rows = slice(head * size, (head + 1) * size)
        product = hin[:, rows] @ w["recurrent_kernel"][head]  # blocks i, f, z, o
        recurrent[:, :, rows] = product.reshape(batch, 4, size)
    pre = pre + recurrent.reshape(batch, 4 * units) + _bias(w, 4, units)
    z_i, z_f, z_z, z_o = _blocks(pre, 4)
    log_f = z_f if exponential_forget_gate else -np.logaddexp(0.0, -z_f)
    m_new = np.where(n == 0.0, z_i, np.maximum(z_i, log_f + m))
    i = np.exp(z_i - m_new)
    f = np.minimum(np.exp(log_f + m - m_new), 1.0)  # > 1 only where n = 0
    c_new = f * c + i * activation(z_z)
    n_new = f * n + i
    o = recurrent_activation(z_o)
    h_new = o * c_new / n_new
    gates = {"input": i, "forget": f, "output": o, "n": n_new, "m": m_new}
    return h_new, [h_new, c_new, n_new, m_new], gates


def mlstm_step(
    x,
    states,
    w,
    *,
    num_heads,
    units,
    key_units,
    x_mask=None,
    state_mask=None,
    **unused,
):
    """xLSTM's mLSTM (Beck et al., 2024, eqs. 19-27, stabilised as the
    official mlstm-kernels' step): one matrix memory per head, written with
    the outer product of key and value and read with the query scaled by
    1/sqrt(dk); the lower bound of the normaliser is exp(-m) (1 before
    stabilisation) and 1e-6 is added to it. Blocks q, k, v, o, i, f of `x @
    kernel + bias`, or of `x` itself without a kernel (then no output
    gate). Reports the stabilised gates i', f' and m, one per head."""
    c, n, m = states
    batch = x.shape[0]
    xin = x if x_mask is None else x * x_mask
    heads, dk, dv = num_heads, key_units // num_heads, units // num_heads
    projected = "kernel" in w
    pre = xin @ w["kernel"] if projected else np.array(xin, np.float64)
    if "bias" in w:
        pre = pre + w["bias"]
    widths = [key_units, key_units, units] + ([units] if projected else [])
    cuts = np.cumsum(widths + [heads])
    q, k, v, *rest = np.split(pre, cuts, axis=-1)
    o = sigmoid(rest[0]) if projected else np.ones((batch, units))
    z_i, z_f = rest[-2], rest[-1]
    c_new, n_new, m_new = np.empty_like(c), np.empty_like(n), np.empty_like(m)
    h = np.empty((batch, units))
    i_act, f_act = np.empty_like(m), np.empty_like(m)
    for head in range(heads):
        keys, values = (
            slice(head * dk, (head + 1) * dk),
            slice(head * dv, (head + 1) * dv),
        )
        cells = slice(head * dk * dv, (head + 1) * dk * dv)
        for row in range(batch):
            log_f = -np.logaddexp(0.0, -z_f[row, head])
            m_t = max(log_f + m[row, head], z_i[row, head])
            f_t = np.exp(log_f + m[row, head] - m_t)
            i_t = np.exp(z_i[row, head] - m_t)
            kv = np.outer(k[row, keys], v[row, values])
            memory = f_t * c[row, cells].reshape(dk, dv) + i_t * kv
            norm = f_t * n[row, keys] + i_t * k[row, keys]
            query = q[row, keys] / np.sqrt(dk)
            bound = max(abs(query @ norm), np.exp(-m_t)) + 1e-6
            h[row, values] = (query @ memory) / bound
            c_new[row, cells] = memory.reshape(-1)
            n_new[row, keys], m_new[row, head] = norm, m_t
            i_act[row, head], f_act[row, head] = i_t, f_t
    gates = {"input": i_act, "forget": f_act, "m": m_new}
    return o * h, [c_new, n_new, m_new], gates


def mutant_gru_step(
    x,
    states,
    w,
    *,
    mutant,
    activation=np.tanh,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """Jozefowicz, Zaremba and Sutskever (ICML 2015), section 3.1's MUT1,
    MUT2, MUT3, with `h` the previous state (the paper's h_t) and the new
    state returned (its h_{t+1}). The weights are read from the fused
    matrices by the blocks each mutant has (docs/contract.md)."""
    (h,) = states
    units = h.shape[-1]
    xin = x if x_mask is None else x * x_mask
    hin = h if state_mask is None else h * state_mask
    kernel_blocks = {1: "zr", 2: "zh", 3: "zrh"}[mutant]
    recurrent_blocks = {1: "rh", 2: "zrh", 3: "zrh"}[mutant]
    W = dict(zip(kernel_blocks, _blocks(w["kernel"], len(kernel_blocks)), strict=True))
    U = dict(
        zip(
            recurrent_blocks,
            _blocks(w["recurrent_kernel"], len(recurrent_blocks)),
            strict=True,
        )
    )
    b_z, b_r, b_h = _blocks(_bias(w, 3, units), 3)
    tanh, sigm = activation, recurrent_activation
    if mutant == 1:
        z = sigm(xin @ W["z"] + b_z)
        r = sigm(xin @ W["r"] + hin @ U["r"] + b_r)
        candidate = tanh((r * hin) @ U["h"] + tanh(xin) + b_h)
    elif mutant == 2:
        z = sigm(xin @ W["z"] + hin @ U["z"] + b_z)
        r = sigm(xin + hin @ U["r"] + b_r)
        candidate = tanh((r * hin) @ U["h"] + xin @ W["h"] + b_h)
    else:
        z = sigm(xin @ W["z"] + tanh(hin) @ U["z"] + b_z)
        r = sigm(xin @ W["r"] + hin @ U["r"] + b_r)
        candidate = tanh((r * hin) @ U["h"] + xin @ W["h"] + b_h)
    h_new = candidate * z + h * (1 - z)
    return h_new, [h_new], {"update": z, "reset": r}


def keras_gru_step(
    x, states, w, *, reset_after=True, activation=np.tanh, recurrent_activation=sigmoid
):
    """Keras' GRUCell: `h = z ⊙ h_{t-1} + (1 - z) ⊙ h~` (z weights the OLD
    state), blocks z, r, h; with `reset_after` two bias rows (input, recurrent)
    and the reset gate applied after the recurrent product."""
    (h,) = states
    units = h.shape[-1]
    bias = w.get("bias")
    if bias is None:
        b_in = b_rec = np.zeros(3 * units)
    elif reset_after:
        b_in, b_rec = bias
    else:
        b_in, b_rec = bias, np.zeros(3 * units)
    x_z, x_r, x_h = _blocks(x @ w["kernel"] + b_in, 3)
    r_z, r_r, r_h = _blocks(w["recurrent_kernel"], 3)
    b_z, b_r, b_h = _blocks(b_rec, 3)
    z = recurrent_activation(x_z + h @ r_z + b_z)
    r = recurrent_activation(x_r + h @ r_r + b_r)
    if reset_after:
        cand = activation(x_h + r * (h @ r_h + b_h))
    else:
        cand = activation(x_h + (r * h) @ r_h)
    h_new = z * h + (1.0 - z) * cand
    return h_new, [h_new], {"update": z, "reset": r}


def clockwork_step(
    x, states, w, *, periods, activation=np.tanh, x_mask=None, state_mask=None, **_
):
    """Koutník et al. (2014), module by module and row by row: module i runs
    when its row's clock t (rounded, counted from 0) has t mod T_i = 0 and
    reads the modules j >= i through its block column `recurrent_kernel_i`;
    the clock then counts on, modulo the common cycle of the periods."""
    h, clock = states
    batch, units = h.shape
    g = len(periods)
    m = units // g
    xin = x if x_mask is None else x * x_mask
    hin = h if state_mask is None else h * state_mask
    bias = _bias(w, 1, units)
    cycle = np.lcm.reduce(periods)
    t = np.mod(np.round(clock[:, 0]), cycle)
    h_new = h.copy()
    active = np.zeros((batch, g))
    for b in range(batch):
        for i, period in enumerate(periods):
            if t[b] % period:
                continue
            active[b, i] = 1.0
            block = slice(i * m, (i + 1) * m)
            pre = xin[b] @ w["kernel"][:, block] + bias[block]
            for j in range(i, g):
                rows = slice((j - i) * m, (j - i + 1) * m)
                pre = (
                    pre + hin[b, j * m : (j + 1) * m] @ w[f"recurrent_kernel_{i}"][rows]
                )
            h_new[b, block] = activation(pre)
    clock_new = np.mod(t + 1, cycle)[:, None]
    return h_new, [h_new, clock_new], {"active": active}


def depth_gated_lstm_step(
    x,
    states,
    w,
    *,
    layers,
    coupled=False,
    activation=np.tanh,
    recurrent_activation=sigmoid,
    x_mask=None,
    state_mask=None,
):
    """Yao et al. (2015), layer by layer: each layer a peephole LSTM (CIFG
    when `coupled`) on the new output of the layer below; above layer 0 a
    depth gate d = σ(W_xd x + b_d + w_c ⊙ c_{t-1} + w_l ⊙ c^{below}_t) adds
    d ⊙ c^{below}_t to the memory cell, before the output gate peeps."""
    act, rec = activation, recurrent_activation
    units = states[0].shape[-1]
    names = ["i", "c", "o"] if coupled else ["i", "f", "c", "o"]
    inp = x if x_mask is None else x * x_mask
    new_states, gates = [], {}
    below_c = None
    for n_l in range(layers):
        h, c = states[2 * n_l], states[2 * n_l + 1]
        hin = h if state_mask is None else h * state_mask
        kernel = w[f"kernel_{n_l}"]
        blocks = len(names) + (n_l > 0)
        bias = w.get(f"bias_{n_l}", np.zeros(blocks * units))
        x_parts = _blocks(inp @ kernel + bias, blocks)
        h_parts = _blocks(hin @ w[f"recurrent_kernel_{n_l}"], len(names))
        z = {n: x_parts[k] + h_parts[k] for k, n in enumerate(names)}

        def p(gate, n_l=n_l):
            return w.get(f"{gate}_peephole_{n_l}", np.zeros(units))

        i = rec(z["i"] + p("input") * c)
        f = 1.0 - i if coupled else rec(z["f"] + p("forget") * c)
        c_new = f * c + i * act(z["c"])
        if n_l > 0:
            d = rec(x_parts[-1] + p("depth_cell") * c + p("depth_lower") * below_c)
            c_new = c_new + d * below_c
            gates[f"depth_{n_l}"] = d
        o = rec(z["o"] + p("output") * c_new)
        h_new = o * act(c_new)
        gates[f"input_{n_l}"], gates[f"forget_{n_l}"], gates[f"output_{n_l}"] = i, f, o
        new_states += [h_new, c_new]
        inp, below_c = h_new, c_new
    return new_states[-2], new_states, gates


def run_rnn(
    step,
    xs,
    states,
    *,
    mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    return_gates=False,
):
    """Runs `step` over `xs` of shape (batch, time, features).

    Returns `(outputs, final_states)`, outputs of shape (batch, time, units)
    in processing order; with `return_gates`, also a dict of each gate's
    values `(batch, time, units)` on the input's time axis (step t at index
    t, also going backwards), NaN at masked steps.
    """
    xs = np.asarray(xs, np.float64)
    states = [np.asarray(s, np.float64) for s in states]
    batch, steps = xs.shape[:2]
    if mask is None:
        mask = np.ones((batch, steps), bool)
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    prev_out = None
    outputs, gates = [], {}
    for t in order:
        out, new_states, step_gates = step(xs[:, t], states)
        if prev_out is None:
            prev_out = np.zeros_like(out)
        keep = mask[:, t][:, None]
        for name, value in step_gates.items():
            gates.setdefault(name, np.full((batch, steps, value.shape[-1]), np.nan))
            gates[name][:, t] = np.where(keep, value, np.nan)
        states = [np.where(keep, n, s) for n, s in zip(new_states, states, strict=True)]
        out = np.where(keep, out, 0.0 if zero_output_for_mask else prev_out)
        prev_out = out
        outputs.append(out)
    if return_gates:
        return np.stack(outputs, axis=1), states, gates
    return np.stack(outputs, axis=1), states
