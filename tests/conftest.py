"""Shared pytest configuration for gradgen's tests."""

import os

# gradgen.api reads this when first imported (after this file): verify the graph after every
# optimization pass, not only at the end.
os.environ.setdefault("GRADGEN_VERIFY_PASSES", "1")


def pytest_addoption(parser):
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="run the long fuzzing campaign (GRADGEN_FUZZ_EXAMPLES=5000 unless set)",
    )


def pytest_configure(config):
    # Hypothesis settings are fixed when test modules are imported, which happens after this.
    if config.getoption("--runslow"):
        os.environ.setdefault("GRADGEN_FUZZ_EXAMPLES", "5000")
