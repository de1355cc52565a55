"""Scripts that run the reference implementations (TF1 through tf_keras, the
official `sru`, `mingru-pytorch`) in a process of their own and save their
weights and outputs, for tests/test_peers.py."""
