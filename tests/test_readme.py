"""The README's offline example runs as written (a newcomer copies it first)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_simulator_example_runs(tmp_path: Path) -> None:
    (example,) = [block for block in python_blocks() if "OpenAISimulator(" in block]
    script = tmp_path / "example.py"
    script.write_text(example)
    namespace = runpy.run_path(str(script))
    assert namespace["result"]["messages"][-1].content == "Rome"
    assert [r.status for r in namespace["sim"].requests] == [200, 200]
