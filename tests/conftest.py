import getpass
import os
import tempfile

import keras
import pytest


def _share_jax_compilations():
    """On JAX, every compiled program goes to JAX's persistent compilation
    cache, shared by the pytest workers and kept between runs: many tests
    build the same layer on the same shapes, and each would compile it
    again (the numerical tests on JAX, 2 cores, one run each on separate
    occasions, not interleaved: 377 s with it, 479 s and 501 s without). The programs are the same; only compiling is
    saved. `JAX_COMPILATION_CACHE_DIR` set by the user wins."""
    if keras.backend.backend() != "jax" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    import jax

    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "anyone"
    folder = os.path.join(tempfile.gettempdir(), f"keras-gates-jax-cache-{user}")
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


_share_jax_compilations()


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from float32, with no leftover global policy or names."""
    keras.config.set_dtype_policy("float32")
    # free_memory=False: no gc.collect(), which takes ~0.7 s per test late in
    # the suite (a large heap); Python collects on its own schedule.
    keras.utils.clear_session(free_memory=False)
    yield
    keras.config.set_dtype_policy("float32")


# The numerical tests that CI also runs on PyTorch's backend (`-m torch`): the
# NumPy reference of every layer and option, in 30 s on 2 cores. Left out
# there: `jit_compile` (torch.compile, 15-40 s a test) and the model-level and
# long-sequence files (8 minutes), which TensorFlow and JAX run.
TORCH_FILES = {
    "test_numerics.py",
    "test_variants.py",
    "test_mutants.py",
    "test_clockwork.py",
    "test_depth_gated.py",
    "test_own_cell.py",
    "test_sliced_rnn.py",
    "test_inspect.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in TORCH_FILES and "jit_compile" not in item.name:
            item.add_marker(pytest.mark.torch)
