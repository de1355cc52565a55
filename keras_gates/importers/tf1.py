"""Importer of TF1's `tf.compat.v1.nn.rnn_cell.LSTMCell`. Not public:
`keras_gates.importers` has its functions."""

import numpy as np

from keras_gates.importers._common import OUTPUT_ARGS
from keras_gates.importers._common import RUNNING_ARGS
from keras_gates.importers._common import array
from keras_gates.importers._common import check_layer_kwargs
from keras_gates.importers._common import expect_shape

# TF1's fused kernel holds the blocks in the order i, j, f, o (j being the
# candidate); Keras and keras-gates in the order i, f, c, o.
_TF1_TO_KERAS_BLOCKS = (0, 2, 1, 3)


def from_tf1_lstm_cell(
    kernel,
    bias,
    w_i_diag=None,
    w_f_diag=None,
    w_o_diag=None,
    projection=None,
    *,
    forget_bias=1.0,
    cell_clip=None,
    projection_clip=None,
    activation="tanh",
    **layer_kwargs,
):
    """A `PeepholeLSTM` that computes what TF1's `LSTMCell` computes.

    Takes the cell's variables by value: `kernel` (`lstm_cell/kernel`, shape
    `(input_dim + h_dim, 4 * units)`, the rows of the input first, then
    those of the previous output, columns in TF1's gate order i, j, f, o),
    `bias` (`(4 * units,)`), the peephole vectors `w_i_diag`, `w_f_diag`,
    `w_o_diag` (`use_peepholes=True`; any subset may be given) and the
    projection `projection` (`lstm_cell/projection/kernel`, `(units,
    num_proj)`, with `num_proj`). Pass the cell's `forget_bias` (added to
    the forget gate's pre-activation; TF1's default is 1.0), `cell_clip`,
    `proj_clip` as `projection_clip` and `activation`.

    The layer splits the kernel in `kernel` and `recurrent_kernel`, orders
    the blocks as Keras (i, f, c, o) and folds `forget_bias` into the bias.
    Its states are `[h, c]` where TF1's `LSTMStateTuple` is `(c, h)`.

    Args:
        kernel: The TF1 `kernel`, `(input_dim + h, 4 * units)` with `h` the
            output size (`units`, or `num_proj` with a projection), a NumPy
            array or a tensor.
        bias: The TF1 `bias`, `(4 * units,)`.
        w_i_diag: The input gate's peephole, or None.
        w_f_diag: The forget gate's peephole, or None.
        w_o_diag: The output gate's peephole, or None.
        projection: The projection kernel `(units, num_proj)`, or None.
        forget_bias: The TF1 cell's `forget_bias`. Defaults to 1.0, TF1's.
        cell_clip: The TF1 cell's `cell_clip`, or None.
        projection_clip: The TF1 cell's `proj_clip`, or None.
        activation: The TF1 cell's `activation`. Defaults to `"tanh"`.
        **layer_kwargs: Further `PeepholeLSTM` arguments
            (`return_sequences`, `name`, ...).

    Returns:
        A built `keras_gates.PeepholeLSTM`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> layer = keras_gates.importers.from_tf1_lstm_cell(
        ...     np.zeros((3 + 2, 4 * 4)), np.zeros(4 * 4),
        ...     projection=np.zeros((4, 2)), projection_clip=1.0)
        >>> layer.units, layer.projection_units, tuple(layer.cell.kernel.shape)
        (4, 2, (3, 16))
    """
    from keras_gates.layers.peephole_lstm import PeepholeLSTM

    check_layer_kwargs(
        layer_kwargs,
        "from_tf1_lstm_cell",
        "TF1's LSTMCell",
        RUNNING_ARGS | OUTPUT_ARGS,
    )
    kernel = array(kernel, "kernel")
    bias = array(bias, "bias")
    if bias is None:
        raise ValueError(
            "bias is missing: TF1's LSTMCell always has one (`lstm_cell/bias`, "
            "of shape (4 * units,))."
        )
    projection = array(projection, "projection")
    if kernel is None or kernel.ndim != 2 or kernel.shape[1] % 4:
        raise ValueError(
            "kernel must be TF1's fused LSTM kernel, of shape (input_dim + "
            "h_dim, 4 * units). Received shape "
            f"{None if kernel is None else kernel.shape}."
        )
    units = kernel.shape[1] // 4
    h_dim = units
    if projection is not None:
        if projection.ndim != 2 or projection.shape[0] != units:
            raise ValueError(
                f"projection must have shape (units, num_proj) = ({units}, "
                f"num_proj) for a kernel of {4 * units} columns. Received shape "
                f"{projection.shape}."
            )
        h_dim = projection.shape[1]
    input_dim = kernel.shape[0] - h_dim
    if input_dim <= 0:
        raise ValueError(
            f"kernel has {kernel.shape[0]} rows, which leaves no input rows "
            f"after the {h_dim} rows of the recurrent state."
        )
    expect_shape(bias, (4 * units,), "bias", f"a kernel of {4 * units} columns")
    diags = {"input": w_i_diag, "forget": w_f_diag, "output": w_o_diag}
    diags = {gate: array(d, f"w_{gate[0]}_diag") for gate, d in diags.items()}
    peepholes = [gate for gate, d in diags.items() if d is not None]
    for gate in peepholes:
        expect_shape(diags[gate], (units,), f"w_{gate[0]}_diag", "the cell")

    order = np.concatenate(
        [np.arange(b * units, (b + 1) * units) for b in _TF1_TO_KERAS_BLOCKS]
    )
    bias = bias[order].copy()
    bias[units : 2 * units] += np.float32(forget_bias)  # the f block

    layer = PeepholeLSTM(
        units,
        peepholes=peepholes,
        cell_clip=cell_clip,
        projection_units=None if projection is None else h_dim,
        projection_clip=projection_clip,
        activation=activation,
        **layer_kwargs,
    )
    layer.build((None, None, input_dim))
    cell = layer.cell
    cell.kernel.assign(kernel[:input_dim][:, order])
    cell.recurrent_kernel.assign(kernel[input_dim:][:, order])
    cell.bias.assign(bias)
    for gate in peepholes:
        getattr(cell, f"{gate}_peephole").assign(diags[gate])
    if projection is not None:
        cell.projection_kernel.assign(projection)
    return layer


def from_tf1_checkpoint(path, scope="rnn/lstm_cell", **kwargs):
    """`from_tf1_lstm_cell` with the variables of a TF1 checkpoint.

    Reads `{scope}/kernel`, `{scope}/bias`, and where present
    `{scope}/w_i_diag`, `{scope}/w_f_diag`, `{scope}/w_o_diag` and
    `{scope}/projection/kernel` (the names TF1's `LSTMCell` gives them; the
    default scope is that of a cell run by `tf.compat.v1.nn.dynamic_rnn`).
    Needs TensorFlow.

    A TF1 SavedModel keeps its variables in the same format: pass
    `"<export_dir>/variables/variables"`.

    Args:
        path: The checkpoint's prefix or folder.
        scope: The cell's variable scope.
        **kwargs: `forget_bias`, `cell_clip`, `projection_clip`,
            `activation` and the layer's arguments, as for
            `from_tf1_lstm_cell`.
    """
    try:
        import tensorflow as tf
    except ImportError as e:
        raise ImportError(
            "from_tf1_checkpoint reads the checkpoint with TensorFlow, which "
            'is not installed: pip install "keras-gates[tensorflow]"'
        ) from e

    reader = tf.train.load_checkpoint(path)
    names = reader.get_variable_to_shape_map()

    def read(name):
        key = f"{scope}/{name}"
        return reader.get_tensor(key) if key in names else None

    if read("kernel") is None:
        found = sorted(n for n in names if n.endswith("/kernel"))
        raise ValueError(
            f"No variable {scope}/kernel in the checkpoint {path}. Kernels "
            f"found: {found}. Pass the cell's scope as `scope`."
        )
    return from_tf1_lstm_cell(
        read("kernel"),
        read("bias"),
        read("w_i_diag"),
        read("w_f_diag"),
        read("w_o_diag"),
        read("projection/kernel"),
        **kwargs,
    )
