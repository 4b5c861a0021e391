"""The README's usage example runs as written."""
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    example = blocks[0]
    assert len([line for line in example.splitlines() if line.strip()]) <= 10
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    shape, difference = result.stdout.split(") ")
    assert shape == "torch.Size([8, 16, 32, 32]"
    assert float(difference) < 1e-4


def test_readme_gives_the_two_commands():
    text = README.read_text()
    assert "make book" in text and "make test" in text
