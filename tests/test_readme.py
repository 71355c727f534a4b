"""The README's quick start is true: its code runs and prints the code the README shows."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def code_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_quick_start_prints_the_documented_backward_code(tmp_path):
    script = code_blocks("python")[0]
    documented_source = code_blocks("python")[1]
    assert script.startswith("# neuron.py\n")
    (tmp_path / "neuron.py").write_text(script)
    result = subprocess.run(
        [sys.executable, "neuron.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert documented_source in result.stdout
    assert "(-0.1966" in result.stdout


BAD_EXAMPLE = """import math


def f(x):
    \"\"\"A logarithm, or zero.\"\"\"
    total = 0.0
    try:
        total = math.log(x)
    except ValueError:
        pass
    return total
"""


def test_documented_error_is_the_real_message(tmp_path):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "bad.py").write_text(BAD_EXAMPLE)
    script = (
        "import sys; sys.path.insert(0, 'examples')\n"
        "import gradgen, bad\n"
        "try:\n    gradgen.grad(bad.f)\n"
        "except gradgen.GradgenError as error:\n    print(str(error).replace(sys.argv[1] + '/', ''))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    documented = re.search(r"  ```\n(  examples/bad.py.*?)  ```", README.read_text(), flags=re.S).group(1)
    assert result.stdout == "\n".join(line[2:] for line in documented.splitlines()) + "\n"
