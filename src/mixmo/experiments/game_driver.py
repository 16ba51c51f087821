"""The shape of the differentiable-game experiments: settings × methods → `learn` → rows and curves → claims.

`each_run` runs every method on every setting's game, one progress tick per run, and yields what the experiment
turns into its rows and curves (and from those its claims):

    for setting, game, method_id, traj in each_run(settings, make_game, methods, train, progress):
        rows.append(my_row(setting, game, method_id, traj))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from mixmo.learning import Trajectory
from mixmo.methods import GameMethod


def each_run(settings: Sequence[Any], make_game: Callable[[Any], Any], methods: Mapping[str, GameMethod],
             train: Callable[[Any, str, GameMethod], Trajectory], progress, label: str = "settings x methods"
             ) -> Iterator[tuple[Any, Any, str, Trajectory]]:
    """Yield `(setting, game, method_id, trajectory)` for each setting (its game built once by `make_game`) and
    each method in order, `train(game, method_id, method)` giving the trajectory; the progress bar `label` counts
    settings × methods and ticks when the consumer has handled a run."""
    advance = progress(label, len(settings) * len(methods))
    for setting in settings:
        game = make_game(setting)
        for method_id, method in methods.items():
            yield setting, game, method_id, train(game, method_id, method)
            advance()
