"""Layer normalization inside a cell: the `<name>_gamma` and `<name>_beta`
weights and the normalization itself, shared by the cells that take
`layer_norm`. Plain functions; not public."""

from keras import ops


def layer_normalize(x, gamma, beta, epsilon):
    """Layer normalization over the last axis (biased variance, as
    `keras.layers.LayerNormalization` and `torch.nn.LayerNorm`)."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    centered = x - mean
    variance = ops.mean(ops.square(centered), axis=-1, keepdims=True)
    return centered * ops.rsqrt(variance + epsilon) * gamma + beta


def add_norm(cell, name, size):
    """`(gamma, beta)` of one normalization of `size` features, from the
    cell's `norm_gamma_initializer` and `norm_beta_initializer`."""
    gamma = cell.add_weight(
        shape=(size,), name=f"{name}_gamma", initializer=cell.norm_gamma_initializer
    )
    beta = cell.add_weight(
        shape=(size,), name=f"{name}_beta", initializer=cell.norm_beta_initializer
    )
    return gamma, beta


def normalize(cell, x, norm):
    """`x` normalized with `norm = (gamma, beta)` and the cell's epsilon."""
    gamma, beta = norm
    return layer_normalize(x, gamma, beta, cell.norm_epsilon)
