"""README.md stays true: its Python example runs, and its quick-start commands are the ones CI runs."""

import re
from pathlib import Path

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_python_example_runs(capsys):
    block = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    exec(compile(block, "README.md", "exec"), {})
    welfare = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert 2.0 < welfare <= 3.0  # between the Nash equilibrium and the social optimum


def test_ci_runs_the_readme_test_command():
    quick_start = README.split("## Quick start", 1)[1]
    commands = re.findall(r"```bash\n(.*?)\n```", quick_start, re.S)
    assert "mixmo run aga-public-goods" in commands[0]
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert commands[1].strip() in ci
