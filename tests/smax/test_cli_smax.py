"""`mixmo run aga-selfish-mmm2` errors (its tiny end-to-end run is the smoke run of `mixmo reproduce`,
checked in tests/core/test_reproduce.py)."""

from mixmo.app.cli import main


def test_unknown_method_is_one_clear_line(capsys):
    code = main(["run", "aga-selfish-mmm2", "--set", "methods=lola", "--quiet"])
    _, err = capsys.readouterr()
    assert code != 0 and "unknown method 'lola'" in err and "Traceback" not in err
