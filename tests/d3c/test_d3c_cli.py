"""The D3C experiments' settings errors through the command line."""

import pytest

from mixmo.app.cli import main


# The tiny end-to-end run of every D3C experiment (results folder, summary keys, the paper's numbers in the
# report) is checked on `mixmo reproduce all --budget smoke` in tests/core/test_reproduce.py, with the same settings.


@pytest.mark.parametrize("argv, fragment", [
    (["run", "d3c-braess", "--set", "d3c.lr_mix=-1"], "lr_mix must be >= 0"),
    (["run", "d3c-braess", "--set", "d3c.clip=1,2,3"], "clip must be empty"),
    (["run", "d3c-prisoners-dilemma", "--set", "ns=1"], "ns must be integers >= 2"),
    (["run", "d3c-bilinear", "--set", "parametrizations=linear"], "parametrizations"),
    (["run", "d3c-nash-paradox", "--set", "kappas=1.5"], "kappas"),
])
def test_bad_settings_are_one_line_errors(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
