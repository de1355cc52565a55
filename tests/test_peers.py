"""The importers of `keras_gates.importers` against the real reference
packages: TF1's LSTMCell (through tf_keras), the official `sru`,
`mingru-pytorch` and the official `xlstm` (its sLSTM, `backend="vanilla"`,
which runs without CUDA). Each peer runs in a process of its own (tests/peers/) or,
for the PyTorch ones, in this process on NumPy inputs.

The peers are installed by the README's test command (`pip install -e
".[tests,peers]"`). A peer that is not installed skips its tests, saying so;
with KERAS_GATES_REQUIRE_PEERS=1 (set by CI) it fails them instead.
"""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates import importers as convert
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.helpers import to_numpy

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the importers are tested on the TensorFlow backend; the "
        "layers they build are tested on every backend by test_numerics",
    ),
]

ATOL = 1e-5


def require(module):
    """Skips (or, under KERAS_GATES_REQUIRE_PEERS=1, fails) when the peer
    package `module` is not installed."""
    if importlib.util.find_spec(module) is None:
        message = (
            f'the peer package {module!r} is not installed: pip install -e ".[peers]"'
        )
        if os.environ.get("KERAS_GATES_REQUIRE_PEERS") == "1":
            pytest.fail(message)
        pytest.skip(message)


# ---------------------------------------------------------------- TF1


@pytest.fixture(scope="module")
def tf1_runs(tmp_path_factory):
    require("tf_keras")
    out = tmp_path_factory.mktemp("tf1")
    subprocess.run(
        [sys.executable, "-m", "tests.peers.tf1_lstm", str(out)],
        cwd=ROOT,
        env=subprocess_env(TF_USE_LEGACY_KERAS="1"),
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


TF1_CONFIGS = {
    # name: from_tf1_checkpoint arguments (the cell's, as the script made it)
    "plain": {},
    "lstmp_peepholes_clips": {
        "forget_bias": 0.5,
        "cell_clip": 0.8,
        "projection_clip": 0.3,
    },
    "lstmp_lengths": {},
}


@pytest.mark.parametrize("name", sorted(TF1_CONFIGS))
def test_tf1_lstm_cell_checkpoint_imports_exactly(tf1_runs, name):
    run = np.load(tf1_runs / f"{name}.npz")
    layer = convert.from_tf1_checkpoint(
        str(tf1_runs / name / "model"),
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=True,  # dynamic_rnn's outputs past a length
        **TF1_CONFIGS[name],
    )
    steps = run["x"].shape[1]
    mask = np.arange(steps)[None, :] < run["lengths"][:, None]
    outputs, h, c = layer(run["x"], mask=mask)
    np.testing.assert_allclose(to_numpy(outputs), run["outputs"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(to_numpy(h), run["h"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(to_numpy(c), run["c"], atol=ATOL, rtol=0)
    if name == "lstmp_peepholes_clips":  # the options reached the layer
        assert layer.projection_units == 3 and layer.cell_clip == 0.8
        assert list(layer.peepholes) == ["input", "forget", "output"]


# ---------------------------------------------------------------- SRU

STEPS, BATCH = 7, 3


def _padding():
    """The official `mask_pad`, (steps, batch), True at a padded step."""
    pad = np.zeros((STEPS, BATCH), bool)
    pad[-2:, 1] = True  # right padding
    pad[-5:, 2] = True
    return pad


def _randomized(module, seed):
    """`module` with every parameter random (buffers, such as the official
    `scale_x`, kept), in inference mode."""
    import torch

    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.5)
    return module.eval()


SRU_CONFIGS = {
    # name: sru.SRU arguments (input size first, hidden size second)
    "bidirectional_rescale_layer_norm": dict(
        input_size=8,
        hidden_size=4,
        num_layers=2,
        bidirectional=True,
        rescale=True,
        layer_norm=True,
        highway_bias=-1.0,
    ),
    "projected_highway_rescale_tanh": dict(
        input_size=5,
        hidden_size=4,
        num_layers=2,
        rescale=True,
        highway_bias=0.5,
        use_tanh=True,
    ),
    "no_skip_projection_size_normalize_after": dict(
        input_size=6,
        hidden_size=4,
        num_layers=1,
        has_skip_term=False,
        projection_size=3,
        layer_norm=True,
        normalize_after=True,
    ),
    "bidirectional_normalize_after_projected": dict(
        input_size=5,
        hidden_size=4,
        num_layers=2,
        bidirectional=True,
        layer_norm=True,
        normalize_after=True,
        rescale=True,
    ),
    "input_to_hidden_first": dict(
        input_size=5,
        hidden_size=4,
        num_layers=1,
        proj_input_to_hidden_first=True,
        rescale=True,
    ),
}


def _run_official(module, x, pad):
    import torch

    with torch.no_grad():
        h, c = module(
            torch.from_numpy(x.transpose(1, 0, 2)), mask_pad=torch.from_numpy(pad)
        )
    return h.numpy().transpose(1, 0, 2), c.numpy()


def _assert_same_outputs(model, x, pad, want, post_norm):
    got = to_numpy(model(x, mask=~pad.T))
    valid = ~pad.T
    np.testing.assert_allclose(got[valid], want[valid], atol=ATOL, rtol=0)
    if not post_norm:  # the official normalizes the padded steps' zeros too
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", sorted(SRU_CONFIGS))
def test_official_sru_imports_exactly(name):
    require("sru")
    import sru

    config = SRU_CONFIGS[name]
    module = _randomized(sru.SRU(**config), seed=len(name))
    x = np.random.default_rng(2).normal(size=(BATCH, STEPS, config["input_size"]))
    x = x.astype("float32")
    pad = _padding()
    want, _ = _run_official(module, x, pad)
    model = convert.from_sru(module)
    post_norm = config.get("normalize_after", False)
    _assert_same_outputs(model, x, pad, want, post_norm)
    # The state_dict alone, with the flags that the weights do not show.
    flags = {
        key: config[key]
        for key in ("bidirectional", "has_skip_term", "normalize_after", "use_tanh")
        if key in config
    }
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    _assert_same_outputs(convert.from_sru(state, **flags), x, pad, want, post_norm)


def test_official_sru_cell_imports_exactly():
    """An `sru.SRUCell`, whose `rescale` defaults to True."""
    require("sru")
    import sru

    module = _randomized(sru.SRUCell(4, 4, highway_bias=-2.0), seed=3)
    x = np.random.default_rng(4).normal(size=(BATCH, STEPS, 4)).astype("float32")
    pad = _padding()
    want, _ = _run_official(module, x, pad)
    model = convert.from_sru(module)
    assert model.layers[0].rescale
    _assert_same_outputs(model, x, pad, want, post_norm=False)


# ------------------------------------------------------------- minGRU


@pytest.mark.parametrize("expansion", [1.0, 1.5], ids=["same", "expanded_to_out"])
@pytest.mark.parametrize("fast_path", [True, False], ids=["scan", "steps"])
def test_mingru_pytorch_imports_exactly(expansion, fast_path):
    require("minGRU_pytorch")
    import torch
    from minGRU_pytorch import minGRU

    torch.manual_seed(0)
    module = minGRU(4, expansion_factor=expansion).eval()
    inner = int(4 * expansion)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(BATCH, 40, 4)).astype("float32")
    prev = np.abs(rng.normal(size=(BATCH, 1, inner))).astype("float32") + 0.1
    with torch.no_grad():
        want, want_next = module(torch.from_numpy(x), return_next_prev_hidden=True)
        want_prev = module(torch.from_numpy(x), torch.from_numpy(prev))
        step = module(torch.from_numpy(x[:, :1]), torch.from_numpy(prev))
    layer = convert.from_mingru_pytorch(module, return_state=True, fast_path=fast_path)
    assert layer.log_space and (layer.projection_units is not None) == (expansion != 1)
    got, got_next = layer(x)
    np.testing.assert_allclose(to_numpy(got), want.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(to_numpy(got_next), want_next.numpy()[:, 0], atol=ATOL)
    got_prev, _ = layer(x, initial_state=[prev[:, 0]])
    np.testing.assert_allclose(to_numpy(got_prev), want_prev.numpy(), atol=ATOL, rtol=0)
    # One step (the package's sequential mode) from its state dict.
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    one = convert.from_mingru_pytorch(state, fast_path=fast_path)
    got_step = one(x[:, :1], initial_state=[prev[:, 0]])
    np.testing.assert_allclose(to_numpy(got_step), step.numpy(), atol=ATOL, rtol=0)


@pytest.mark.parametrize("expansion", [1.0, 1.5], ids=["same", "expanded_to_out"])
@pytest.mark.parametrize("fast_path", [True, False], ids=["scan", "steps"])
def test_mingru_pytorch_min_lstm_imports_exactly(expansion, fast_path):
    """The package's minLSTM: its many-step (log-space scan) and one-step
    forms. Over many steps it takes `g(prev_hidden)` as the state where its
    one-step form takes `prev_hidden`; the layer follows the one-step form
    (and the paper), so it gets the many-step outputs from `g(prev)`."""
    require("minGRU_pytorch")
    import torch
    from minGRU_pytorch.minLSTM import minLSTM

    from tests.reference import positive_g

    torch.manual_seed(0)
    module = minLSTM(4, expansion_factor=expansion).eval()
    inner = int(4 * expansion)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(BATCH, 40, 4)).astype("float32")
    prev = np.abs(rng.normal(size=(BATCH, 1, inner))).astype("float32") + 0.1
    with torch.no_grad():
        want, want_next = module(torch.from_numpy(x), return_next_prev_hidden=True)
        want_prev = module(torch.from_numpy(x), torch.from_numpy(prev))
        step = module(torch.from_numpy(x[:, :1]), torch.from_numpy(prev))
    layer = convert.from_mingru_pytorch(module, return_state=True, fast_path=fast_path)
    assert isinstance(layer, kg.MinLSTM) and layer.log_space
    assert (layer.projection_units is not None) == (expansion != 1)
    got, got_next = layer(x)
    np.testing.assert_allclose(to_numpy(got), want.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(to_numpy(got_next), want_next.numpy()[:, 0], atol=ATOL)
    got_prev, _ = layer(x, initial_state=[positive_g(prev[:, 0])])
    np.testing.assert_allclose(to_numpy(got_prev), want_prev.numpy(), atol=ATOL, rtol=0)
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    one = convert.from_mingru_pytorch(state, fast_path=fast_path)
    got_step = one(x[:, :1], initial_state=[prev[:, 0]])
    np.testing.assert_allclose(to_numpy(got_step), step.numpy(), atol=ATOL, rtol=0)


# ---------------------------------------------------------------- xLSTM


def _randomized(module, seed):
    """`module` with every parameter random: the package starts the
    recurrent kernel at zero, which would hide its layout. Matrices get a
    standard deviation of 1/sqrt(their last axis), vectors 0.5, so that
    the outputs stay of order 1 (float32 resolves 1e-5 there)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            scale = 0.5 if parameter.ndim == 1 else parameter.shape[-1] ** -0.5
            parameter.copy_(scale * torch.randn(parameter.shape, generator=generator))
    return module.eval()


def _xlstm_module(kind, heads, width, bias_init, seed, feedforward=None):
    from xlstm import FeedForwardConfig
    from xlstm import sLSTMLayerConfig
    from xlstm.blocks.slstm.cell import sLSTMCell
    from xlstm.blocks.slstm.cell import sLSTMCellConfig
    from xlstm.blocks.slstm.layer import sLSTMLayer
    from xlstm.blocks.xlstm_block import xLSTMBlock
    from xlstm.blocks.xlstm_block import xLSTMBlockConfig

    if kind == "cell":
        config = sLSTMCellConfig(
            hidden_size=8, num_heads=heads, backend="vanilla", bias_init=bias_init
        )
        return _randomized(sLSTMCell(config), seed)
    config = sLSTMLayerConfig(
        embedding_dim=8,
        num_heads=heads,
        conv1d_kernel_size=width,
        backend="vanilla",
        bias_init=bias_init,
    )
    if kind == "layer":
        return _randomized(sLSTMLayer(config), seed)
    block = xLSTMBlockConfig(
        slstm=config,
        feedforward=FeedForwardConfig(proj_factor=1.3, **feedforward)
        if feedforward is not None
        else None,
        _num_blocks=1,
        _block_idx=0,
    )
    return _randomized(xLSTMBlock(block), seed)


# Three configurations of the official sLSTMLayer: heads, the convolution's
# width (0: none), the bias init (randomized after, so it only changes the
# module that the config builds).
XLSTM_LAYERS = [
    pytest.param(2, 4, "powerlaw_blockdependent", id="2_heads-conv4"),
    pytest.param(4, 0, "small_init", id="4_heads-no_conv"),
    pytest.param(1, 2, "standard", id="1_head-conv2"),
]


def _chunks_of(module, x, cuts):
    """The official layer's outputs over `x` in chunks, its states carried,
    and its final states (sLSTM states stacked, conv state)."""
    import torch

    outputs, conv_state, slstm_state = [], None, None
    with torch.no_grad():
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            out, states = module(
                torch.from_numpy(x[:, start:stop]),
                conv_state=conv_state,
                slstm_state=slstm_state,
                return_last_state=True,
            )
            conv_state, slstm_state = states["conv_state"], states["slstm_state"]
            outputs.append(out.numpy())
    return np.concatenate(outputs, axis=1), slstm_state.numpy(), conv_state


@pytest.mark.parametrize("heads, width, bias_init", XLSTM_LAYERS)
def test_xlstm_slstm_layer_imports_exactly(heads, width, bias_init):
    """The official sLSTMLayer (vanilla backend, random weights) and the
    imported SLSTMBlock: outputs and final states within 1e-5, over the
    whole sequence and over chunks with every state carried."""
    require("xlstm")
    module = _xlstm_module("layer", heads, width, bias_init, seed=heads)
    x = np.random.default_rng(heads).normal(size=(3, 23, 8)).astype("float32")
    want, want_states, _ = _chunks_of(module, x, [0, 23])
    block = convert.from_xlstm(module, return_state=True)
    assert isinstance(block, kg.blocks.SLSTMBlock)
    assert block.num_heads == heads and block.conv_kernel_size == width
    got, *got_states = block(x)
    np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)
    for k in range(4):  # h, c, n, m
        np.testing.assert_allclose(
            to_numpy(got_states[k]), want_states[k], atol=ATOL, rtol=0
        )
    # In chunks of 5, 11 and 7 steps, each from the states the last left.
    cuts = [0, 5, 16, 23]
    want_chunks, want_chunk_states, _ = _chunks_of(module, x, cuts)
    np.testing.assert_allclose(want_chunks, want, atol=ATOL, rtol=0)  # the package
    states, outputs = None, []
    for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
        out, *states = block(x[:, start:stop], initial_state=states)
        outputs.append(to_numpy(out))
    np.testing.assert_allclose(
        np.concatenate(outputs, 1), want_chunks, atol=ATOL, rtol=0
    )
    for k in range(4):
        np.testing.assert_allclose(
            to_numpy(states[k]), want_chunk_states[k], atol=ATOL, rtol=0
        )
    # From the state dict, the config's fields passed as keywords.
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    again = convert.from_xlstm(state, num_heads=heads, conv1d_kernel_size=width)
    np.testing.assert_allclose(to_numpy(again(x)), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    "feedforward",
    [None, {}, {"act_fn": "swish", "bias": True}, {"act_fn": "relu^2"}],
    ids=["no_ffn", "ffn", "ffn_swish_bias", "ffn_relu2"],
)
def test_xlstm_block_imports_exactly(feedforward):
    """The official xLSTMBlock around an sLSTM layer: the pre-norm residual
    and the gated feed-forward (exact GELU by default; the activation and
    the biases of its config), from the module and from its state dict."""
    require("xlstm")
    import torch

    module = _xlstm_module("block", 2, 4, "powerlaw_blockdependent", 3, feedforward)
    x = np.random.default_rng(3).normal(size=(2, 17, 8)).astype("float32")
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    block = convert.from_xlstm(module)
    assert block.residual
    assert (block.feedforward_units == 64) == (feedforward is not None)
    if feedforward is not None:
        official = kg.blocks.SLSTMBlock.official_feedforward_units(8)
        assert block.feedforward_units == official
        assert block.feedforward_bias == feedforward.get("bias", False)
    np.testing.assert_allclose(to_numpy(block(x)), want, atol=ATOL, rtol=0)
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    act_fn = (feedforward or {}).get("act_fn")
    again = convert.from_xlstm(state, act_fn=act_fn)
    np.testing.assert_allclose(to_numpy(again(x)), want, atol=ATOL, rtol=0)


def test_xlstm_slstm_cell_imports_exactly():
    """The bare official sLSTMCell: its inputs are the four blocks'
    pre-activations; outputs and the stacked final states."""
    require("xlstm")
    import torch

    module = _xlstm_module("cell", 2, 0, "standard", 5)
    x = np.random.default_rng(5).normal(size=(3, 19, 32)).astype("float32")
    with torch.no_grad():
        want, want_states = module(torch.from_numpy(x))  # (batch, heads, steps, -)
    want = want.transpose(1, 2).reshape(3, 19, 8).numpy()
    layer = convert.from_xlstm(module, return_state=True)
    assert isinstance(layer, kg.SLSTM) and not layer.input_projection
    got, *states = layer(x)
    np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)
    for k in range(4):
        np.testing.assert_allclose(
            to_numpy(states[k]), want_states[k].numpy(), atol=ATOL, rtol=0
        )
    # From a state that a run reached (n >= 1), as a user carries it on,
    # with a mask that holds one row's last steps.
    rng = np.random.default_rng(6)
    start = [rng.normal(size=(3, 8)).astype("float32") for _ in range(4)]
    start[2] = 1.0 + np.abs(start[2])
    with torch.no_grad():
        want, want_states = module(
            torch.from_numpy(x), state=torch.from_numpy(np.stack(start))
        )
    want = want.transpose(1, 2).reshape(3, 19, 8).numpy()
    got, *states = layer(x, initial_state=start)
    np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)
    for k in range(4):
        np.testing.assert_allclose(
            to_numpy(states[k]), want_states[k].numpy(), atol=ATOL, rtol=0
        )
    mask = np.ones((3, 19), bool)
    mask[0, 12:] = False  # right padding: the state after step 12
    with torch.no_grad():
        _, short_states = module(
            torch.from_numpy(x[:1, :12]),
            state=torch.from_numpy(np.stack(start)[:, :1]),
        )
    _, *states = layer(x, initial_state=start, mask=mask)
    for k in range(4):
        np.testing.assert_allclose(
            to_numpy(states[k])[:1], short_states[k].numpy(), atol=ATOL, rtol=0
        )


def test_xlstm_importer_refuses_what_it_cannot_import():
    require("xlstm")
    module = _xlstm_module("layer", 2, 4, "standard", 0)
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    with pytest.raises(ValueError, match="4 heads|has 2 heads"):
        convert.from_xlstm(state, num_heads=4)
    with pytest.raises(ValueError, match="width 4"):
        convert.from_xlstm(state, conv1d_kernel_size=2)
    with pytest.raises(ValueError, match="function='slstm'"):
        convert.from_xlstm(state, function="lstm")
    with pytest.raises(ValueError, match="no sLSTM"):
        convert.from_xlstm({"weight": np.zeros(3)})
    with pytest.raises(ValueError, match="does not take `units`"):
        convert.from_xlstm(state, units=3)
    with pytest.raises(ValueError, match="lack 'fgate.weight'"):
        convert.from_xlstm({k: v for k, v in state.items() if k != "fgate.weight"})
    with pytest.raises(ValueError, match="'conv1d.conv.bias' but not"):
        convert.from_xlstm(
            {k: v for k, v in state.items() if k != "conv1d.conv.weight"}
        )
    with pytest.raises(ValueError, match="saved by the other backend"):
        convert.from_xlstm(state, backend="cuda")
    stack = {f"blocks.0.xlstm.{k}": v for k, v in state.items()}
    with pytest.raises(ValueError, match="stack.blocks\\[i\\]"):
        convert.from_xlstm(stack)
    block = _xlstm_module("block", 2, 4, "standard", 0, {})
    block_state = {k: v.numpy() for k, v in block.state_dict().items()}
    with pytest.raises(ValueError, match="act_fn='tanh'"):
        convert.from_xlstm(block_state, act_fn="tanh")


def test_xlstm_cuda_layout_imports_as_the_vanilla():
    """A state dict saved from the package's CUDA backend (its own internal
    layout of the recurrent kernel and bias) imports to the same layer as
    the vanilla one holding the same weights."""
    require("xlstm")
    from xlstm.blocks.slstm.cell import sLSTMCell_cuda
    from xlstm.blocks.slstm.cell import sLSTMCellConfig

    vanilla = _xlstm_module("cell", 2, 0, "standard", 7)
    config = sLSTMCellConfig(hidden_size=8, num_heads=2, backend="cuda")
    cuda = sLSTMCell_cuda(config, skip_backend_init=True)
    for name in ("recurrent_kernel", "bias"):  # the layout-free views
        internal = getattr(vanilla, f"_{name}_int2ext")(getattr(vanilla, f"_{name}"))
        getattr(cuda, f"_{name}_").data = getattr(cuda, f"_{name}_ext2int")(internal)
    x = np.random.default_rng(7).normal(size=(2, 9, 32)).astype("float32")
    want = convert.from_xlstm(vanilla)(x)
    state = {k: v.numpy() for k, v in cuda.state_dict().items()}
    got = convert.from_xlstm(state, backend="cuda")(x)
    np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-6, rtol=0)
    assert not np.allclose(
        state["_recurrent_kernel_"].reshape(-1),
        vanilla.state_dict()["_recurrent_kernel_"].numpy().reshape(-1),
    )  # the layouts differ


# ---------------------------------------------------------------- mLSTM


def _official_mlstm(kind, q, k, v, i, f, start, chunk_size):
    """The official mlstm-kernels' native kernel `kind` on `(batch, heads,
    steps, -)` arrays: outputs `(batch, heads, steps, dv)` and, but for the
    parallel kernel (which takes no states), the final `(C, n, m)`."""
    import torch
    from mlstm_kernels.torch.chunkwise.native import mlstm_chunkwise__native_autograd
    from mlstm_kernels.torch.parallel.native import mlstm_parallel__native_autograd
    from mlstm_kernels.torch.recurrent import mlstm_recurrent_sequence__native_fw

    tensors = [torch.from_numpy(a) for a in (q, k, v, i, f)]
    if kind == "parallel":
        return mlstm_parallel__native_autograd(*tensors).numpy(), None
    c, n, m = (None,) * 3 if start is None else [torch.from_numpy(a) for a in start]
    run = {
        "chunkwise": mlstm_chunkwise__native_autograd,
        "recurrent": mlstm_recurrent_sequence__native_fw,
    }[kind]
    h, states = run(
        *tensors,
        c_initial=c,
        n_initial=n,
        m_initial=m,
        return_last_states=True,
        chunk_size=chunk_size,
    )
    return h.numpy(), [s.numpy() for s in states]


@pytest.mark.parametrize(
    "heads, key, value, steps, chunk_size, with_state",
    [
        (2, 8, 8, 64, 16, False),
        (4, 4, 8, 96, 32, True),  # keys half the values' size, as xLSTM-7B
        (1, 16, 16, 48, 16, True),
    ],
)
def test_mlstm_forms_equal_the_official_kernels(
    heads, key, value, steps, chunk_size, with_state
):
    """The three forms of `MLSTM(input_projection=False)` against
    mlstm-kernels' native parallel, chunkwise and recurrent kernels, with
    the same inputs: outputs and final states (C, n, m), which both lay
    out alike (1/sqrt(dk) on the query, keys unscaled in the states)."""
    require("mlstm_kernels")
    rng = np.random.default_rng(heads)
    batch = 2

    def normal(*shape, loc=0.0):
        return rng.normal(loc, 1.0, size=(batch, heads, steps, *shape)).astype(
            "float32"
        )

    q, k, v = normal(key), normal(key), normal(value)
    i, f = normal(), normal(loc=2.0)
    start = None
    if with_state:
        start = [
            rng.normal(size=(batch, heads, key, value)).astype("float32"),
            np.abs(rng.normal(size=(batch, heads, key))).astype("float32"),
            rng.normal(size=(batch, heads, 1)).astype("float32"),
        ]

    def steps_major(a):  # (batch, heads, steps, d) -> (batch, steps, heads * d)
        return np.moveaxis(a, 1, 2).reshape(batch, steps, -1)

    inputs = np.concatenate(
        [steps_major(q), steps_major(k), steps_major(v)]
        + [np.moveaxis(g, 1, 2) for g in (i, f)],
        axis=-1,
    )
    initial = None
    if start is not None:
        initial = [start[0].reshape(batch, -1), start[1].reshape(batch, -1)]
        initial.append(start[2][..., 0])
    for form in ("parallel", "chunkwise", "recurrent"):
        # The official parallel kernel takes no initial state: from one,
        # the parallel form is held to the official recurrent kernel.
        official = "recurrent" if form == "parallel" and with_state else form
        want, want_states = _official_mlstm(official, q, k, v, i, f, start, chunk_size)
        layer = kg.MLSTM(
            heads * value,
            num_heads=heads,
            key_units=heads * key,
            input_projection=False,
            form=form,
            chunk_size=chunk_size,
            return_sequences=True,
            return_state=True,
        )
        got, *states = layer(inputs, initial_state=initial)
        np.testing.assert_allclose(
            to_numpy(got), steps_major(want), atol=ATOL, rtol=ATOL, err_msg=form
        )
        if want_states is None:
            continue
        shapes = [(batch, -1), (batch, -1), (batch, -1)]
        for got_state, want_state, shape in zip(
            states, want_states, shapes, strict=True
        ):
            np.testing.assert_allclose(
                to_numpy(got_state),
                want_state.reshape(shape),
                atol=ATOL,
                rtol=ATOL,
                err_msg=form,
            )


def _xlstm_mlstm_module(kind, heads, width, blocksize, bias, seed, embedding=16):
    import torch
    from xlstm import mLSTMLayerConfig
    from xlstm.blocks.mlstm.layer import mLSTMLayer
    from xlstm.blocks.xlstm_block import xLSTMBlock
    from xlstm.blocks.xlstm_block import xLSTMBlockConfig

    layer_config = mLSTMLayerConfig(
        embedding_dim=embedding,
        num_heads=heads,
        conv1d_kernel_size=width,
        qkv_proj_blocksize=blocksize,
        bias=bias,
        context_length=64,
    )
    torch.manual_seed(seed)
    if kind == "layer":
        module = mLSTMLayer(layer_config)
    else:
        config = xLSTMBlockConfig(mlstm=layer_config, _num_blocks=1, _block_idx=0)
        module = xLSTMBlock(config)
    _randomized(module, seed)
    return module.eval()


@pytest.mark.parametrize(
    "kind, heads, width, blocksize, bias",
    [("layer", 4, 4, 4, False), ("layer", 2, 2, 8, True), ("block", 4, 4, 4, False)],
)
def test_xlstm_mlstm_layer_imports_exactly(kind, heads, width, blocksize, bias):
    """The official mLSTMLayer (its parallel backend) and an xLSTMBlock
    around one: every weight random, outputs within 1e-5 in each form; the
    state dict imports the same."""
    require("xlstm")
    import torch

    module = _xlstm_mlstm_module(kind, heads, width, blocksize, bias, seed=heads)
    x = np.random.default_rng(heads).normal(size=(3, 40, 16)).astype("float32")
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    for form in ("parallel", "chunkwise", "recurrent"):
        block = convert.from_xlstm(module, form=form, chunk_size=16)
        assert isinstance(block, kg.blocks.MLSTMBlock)
        assert block.residual == (kind == "block")
        np.testing.assert_allclose(
            to_numpy(block(x)), want, atol=ATOL, rtol=ATOL, err_msg=form
        )
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    again = convert.from_xlstm(state)
    np.testing.assert_allclose(to_numpy(again(x)), want, atol=ATOL, rtol=ATOL)


def test_xlstm_mlstm_importer_refuses_what_it_cannot_import():
    require("xlstm")
    module = _xlstm_mlstm_module("layer", 4, 4, 4, False, seed=0)
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    with pytest.raises(ValueError, match="4 heads.*num_heads=2"):
        convert.from_xlstm(state, num_heads=2)
    with pytest.raises(ValueError, match="lack 'mlstm_cell.fgate.weight'"):
        convert.from_xlstm({k: v for k, v in state.items() if "fgate.weight" not in k})
    with pytest.raises(ValueError, match="feed-forward"):
        convert.from_xlstm({**state, "ffn.proj_up.weight": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="units"):
        convert.from_xlstm(state, units=3)
