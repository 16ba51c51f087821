"""`mixmo render` and `mixmo envs` from the command line."""

import pytest
from PIL import Image

from mixmo.app.cli import main


def test_render_writes_an_animated_gif(capsys, tmp_path):
    out = tmp_path / "gifs" / "mini.gif"
    code = main(["render", "mini_cleanup", "--steps", "6", "--out", str(out)])
    assert code == 0 and "wrote" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames >= 6  # the reset frame plus one per step (identical frames may merge)
        assert gif.size[0] > 20 and gif.size[1] > 20
    assert [p.name for p in out.parent.iterdir()] == ["mini.gif"]  # no partial file left


def test_envs_lists_every_environment(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for name in ["cleanup", "harvest", "coins", "trust_your_brother", "mini_cleanup", "cleanup_10x10", "harvest_patch"]:
        assert name in out


@pytest.mark.parametrize("argv, fragment", [
    (["render", "nope", "--out", "x.gif"], "unknown environment 'nope'"),
    (["render", "coins", "--out", "x.png"], "must end in .gif"),
    (["render", "coins", "--out", "/proc/forbidden/x.gif"], "--out /proc/forbidden/x.gif"),
])
def test_render_errors(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1
