import keras
import pytest


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from float32, with no leftover global policy or names."""
    keras.config.set_dtype_policy("float32")
    # free_memory=False: no gc.collect(), which takes ~0.7 s per test late in
    # the suite (a large heap); Python collects on its own schedule.
    keras.utils.clear_session(free_memory=False)
    yield
    keras.config.set_dtype_policy("float32")
