"""Test-suite configuration."""

import os

# Verify the graph (SSA, arities, outputs) after every optimization pass in every test.
os.environ.setdefault("GRADGEN_VERIFY_PASSES", "1")
