"""Benchmarks of keras-gates layers against Keras' LSTM and GRU."""
