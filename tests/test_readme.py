"""The README's API block runs as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_api_block_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## The API in a few lines"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert tuple(scope["logits"].shape) == (16, 10)
    assert list(scope["state"]) == list(scope["net"].state_dict())
