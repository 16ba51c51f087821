"""The `mixmo` command: list and run the registered experiments."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console

EPILOG = "Results go to results/NAME/<timestamp>/ unless --out is given. Docs: README.md."


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"mixmo: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    from mixmo import __version__

    parser = _Parser(prog="mixmo", description="Learning in mixed-motive multi-agent games: AgA, D3C and "
                     "their baselines in JAX. Reproduces the papers' tables and figures.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"mixmo {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    commands.add_parser("list", help="list the experiments, one line each",
                        description="List the registered experiments with what each reproduces and its budget.")

    run = commands.add_parser(
        "run", help="run one experiment and write its results folder",
        description="Run one experiment: print its table and write config.json, metrics.csv, summary.json, "
                    "PNG figures and report.md (the measured numbers beside the paper's).",
        epilog="Example: mixmo run aga-cleanup --preset smoke --seeds 1 --set ppo.lr=1e-4 --out results/c. "
               "Settings are a tree reached by dotted keys (ppo.lr); --show-config lists them with their docs.")
    run.add_argument("name", help="experiment name (see `mixmo list`)")
    run.add_argument("--preset", action="append", default=[], metavar="NAME",
                     help="apply a named set of settings the experiment declares (smoke: tiny and fast; paper: the "
                          "paper's set-up where it differs from the defaults); repeatable, in order; --set wins")
    run.add_argument("--seeds", type=_positive_int, help="independent runs (sets the experiment's seeds setting)")
    run.add_argument("--steps", type=_positive_int,
                     help="run length: updates per run, or environment steps per seed for the RL experiments")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override one setting by its dotted key (e.g. ppo.lr=1e-4), repeatable")
    run.add_argument("--out", type=Path, help="results folder (default results/NAME/<timestamp>/); must be new")
    run.add_argument("--show-config", action="store_true",
                     help="print the resolved settings, each with its doc and where its value came from, then exit")
    run.add_argument("--json", action="store_true", help="with --show-config: the resolved tree as one JSON object")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--resume", type=Path, metavar="DIR",
                     help="continue an interrupted RL run in DIR from its checkpoints, with DIR's config.json")
    run.add_argument("--keep-checkpoints", action="store_true",
                     help="RL experiments: keep checkpoints/ once the run has finished (by default only the final "
                          "policies, policies/*.eqx, stay)")
    run.add_argument("--logger", action="append", choices=("tensorboard", "wandb"), default=[],
                     help="also stream training curves to TensorBoard or Weights & Biases (RL experiments; repeatable)")
    _reproduce_parser(commands)
    sweep = commands.add_parser(
        "sweep", help="run one experiment over a grid of settings (locally or on a Ray cluster)",
        description="Run an experiment at every point of a grid of settings and gather the summary rows into one "
                    "table (sweep.csv, summary.json, report.md). Seeds are vmapped inside each point.",
        epilog="Example: mixmo sweep aga-public-goods --grid lam=1,10,100 --grid lr=0.1,0.5 --seeds 50. "
               "Values containing commas: separate grid values with ';' (--grid 'methods=aga,sga;aga').")
    sweep.add_argument("name", help="experiment name (see `mixmo list`)")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", required=True,
                       help="a setting and its values, repeatable; the grid is the Cartesian product")
    sweep.add_argument("--seeds", type=_positive_int, help="independent runs per point")
    sweep.add_argument("--steps", type=_positive_int, help="updates per run")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="a fixed override for every point, repeatable")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local: points one after another in this process (default); ray: one Ray task per point")
    sweep.add_argument("--address", help="Ray cluster address (e.g. HEAD:6379 or auto); default: start a local Ray")
    sweep.add_argument("--out", type=Path, help="results folder (default results/sweeps/NAME/<timestamp>/); must be new")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser("envs", help="list the environments, one line each",
                        description="List the JAX environments that `mixmo render` and mixmo.envs.make accept.")

    render = commands.add_parser(
        "render", help="write an animated GIF of an environment rollout",
        description="Roll out an environment and write the frames as an animated GIF.",
        epilog="Example: mixmo render cleanup --steps 100 --out cleanup.gif")
    render.add_argument("env", help="environment name (see `mixmo envs`)")
    render.add_argument("--steps", type=_positive_int, default=100, help="steps to roll out (default 100)")
    render.add_argument("--policy", choices=("random",), default="random", help="how agents act (default random)")
    render.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    render.add_argument("--upscale", type=_positive_int, default=2, help="pixel enlargement (default 2)")
    render.add_argument("--out", type=Path, required=True, help="the GIF to write (must end in .gif)")
    return parser


def _reproduce_parser(commands) -> None:
    from mixmo.app.papers import BUDGETS, CHOICES

    budgets = "\n".join(f"  {name:<8} {text}" for name, text in BUDGETS.items())
    reproduce = commands.add_parser(
        "reproduce", help="run every experiment of a paper and write one combined report with verdicts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run every registered experiment of the AgA paper, the D3C paper or both (all: plus the\n"
                    "beyond-paper experiments, as an appendix) into OUT/<experiment>/, as `mixmo run` would, then\n"
                    "write OUT/report.md, OUT/report.html and OUT/verdicts.png: for each table and figure of the\n"
                    "paper, the paper's number, ours and a verdict (reproduced / close / differs / not comparable,\n"
                    "with the reason), each experiment's figures and a link to its own report.\n\n"
                    "An experiment that fails is recorded as failed, the others still run, and the exit status\n"
                    "is 1.\n\n"
                    f"budgets:\n{budgets}",
        epilog="example:\n"
               "  mixmo reproduce all --budget smoke --out results/smoke   # then open results/smoke/report.html\n"
               "  mixmo reproduce d3c --budget paper --out results/d3c --resume   # continue an interrupted run")
    reproduce.add_argument("paper", metavar="PAPER", help=f"which paper: {', '.join(CHOICES)}")
    reproduce.add_argument("--budget", default="default", metavar="BUDGET",
                           help=f"{', '.join(BUDGETS)} (default: default)")
    reproduce.add_argument("--out", type=Path, help="results folder (default "
                           "results/reproduce/PAPER-BUDGET-<timestamp>/); must be new unless --resume")
    reproduce.add_argument("--seeds", type=_positive_int, help="independent runs in every experiment that has a "
                                                               "seeds setting (overrides the budget)")
    reproduce.add_argument("--resume", action="store_true",
                           help="continue the run in --out: keep the experiments already complete there (same "
                                "settings), resume interrupted RL runs from their checkpoints, run the rest")
    reproduce.add_argument("--quiet", action="store_true", help="no progress bar and no line per experiment")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _overrides(pairs: list[str]) -> dict[str, str]:
    from mixmo.experiments import ConfigError

    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set lr=0.1.")
        result[key.strip()] = value.strip()
    return result


def _list() -> int:
    from mixmo.experiments.catalog import CATALOG

    width = max(len(name) for name in CATALOG)
    for name in sorted(CATALOG):
        entry = CATALOG[name]
        budget = f"  ({entry.budget} on a 2-core CPU)" if entry.budget else ""
        needs = f"  [needs: pip install \"mixmo[{entry.needs}]\"]" if entry.needs else ""
        print(f"{name:<{width}}  {entry.description}{budget}{needs}")
    return 0


def _envs() -> int:
    from mixmo.envs.catalog import ENV_CATALOG

    width = max(len(name) for name in ENV_CATALOG)
    for name in sorted(ENV_CATALOG):
        entry = ENV_CATALOG[name]
        needs = f"  [needs: pip install \"mixmo[{entry.needs}]\"]" if entry.needs else ""
        print(f"{name:<{width}}  {entry.description}{needs}")
    return 0


def _render(args) -> int:
    import importlib.util

    from mixmo.app import files
    from mixmo.envs.catalog import ENV_CATALOG
    from mixmo.experiments import ConfigError

    if args.out.suffix.lower() != ".gif":
        raise ConfigError(f"--out {args.out}: must end in .gif, e.g. --out {args.out.with_suffix('.gif')}.")
    if args.out.is_dir():
        raise ConfigError(f"--out {args.out}: is a folder; give a file name ending in .gif.")
    entry = ENV_CATALOG.get(args.env)
    if entry is None:
        import difflib

        close = difflib.get_close_matches(args.env, list(ENV_CATALOG), n=3)
        raise ConfigError(f"unknown environment {args.env!r}; "
                          + (f"did you mean {', '.join(close)}?" if close else "see `mixmo envs`."))
    if entry.needs and importlib.util.find_spec(entry.needs) is None:
        raise ConfigError(f"{args.env} needs the {entry.needs} extra: pip install \"mixmo[{entry.needs}]\".")
    created = _make_parent(args.out)
    try:
        with files.atomic_file(args.out) as partial:
            try:  # before any work: can the GIF be written there?
                partial.touch()
            except OSError as error:
                raise ConfigError(f"--out {args.out}: cannot write there ({error.strerror}); choose a writable "
                                  "path.") from None
            _write_gif(args, partial)
    except BaseException:
        for folder in created:  # folders made for --out, now empty again
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    print(f"wrote {args.out} ({args.steps} step{'' if args.steps == 1 else 's'} of {args.env}, {args.policy} policy)")
    return 0


def _make_parent(path: Path) -> list[Path]:
    """Create the folder of `path`; returns the folders created, innermost first. Raises `ConfigError`."""
    from mixmo.experiments import ConfigError

    missing, folder = [], path.parent.absolute()
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out {path}: cannot create its folder ({error.strerror}); choose a writable "
                          "path.") from None
    return missing


def _write_gif(args, path: Path) -> None:
    import jax

    from mixmo import envs
    from mixmo.envs.render import rollout_gif

    env = envs.make(args.env)
    rollout_gif(env, jax.random.key(args.seed), args.steps, path, policy=args.policy, upscale=args.upscale)


def _with_budget_flags(args, experiment) -> dict[str, str]:
    """`--set` pairs plus `--seeds` / `--steps` mapped to the experiment's own keys (`--set` wins)."""
    overrides = {}
    for flag, key in (("seeds", experiment.seeds_key), ("steps", experiment.steps_key)):
        if getattr(args, flag) is not None:
            if key is None:
                from mixmo.experiments import ConfigError

                raise ConfigError(f"--{flag}: {experiment.name} has no such setting; see `mixmo run "
                                  f"{experiment.name} --show-config`.")
            overrides[key] = str(getattr(args, flag))
    return {**overrides, **_overrides(args.overrides)}


def _sweep(args, console: Console) -> int:
    from mixmo import experiments
    from mixmo.app import output, runner, sweep

    if args.address and args.executor != "ray":
        from mixmo.experiments import ConfigError

        raise ConfigError("--address is for --executor ray; add --executor ray or drop --address.")
    grid = sweep.parse_grid(args.grid)
    fixed = _with_budget_flags(args, experiments.get(args.name))
    points = sweep.expand(args.name, fixed, grid)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    claimed = output.prepare_out_dir(args.out or Path("results") / "sweeps" / args.name / stamp)
    try:
        with runner.progress_bar(args.quiet) as bar:
            task = bar.add_task(f"{args.name}: grid points", total=len(points))
            advance = lambda: bar.advance(task)  # noqa: E731
            if args.executor == "ray":
                outcomes = sweep.run_ray(args.name, points, grid, advance, args.address)
            else:
                outcomes = sweep.run_local(args.name, points, grid, advance)
        table = sweep.combine(outcomes)
        meta = {"experiment": args.name, "executor": args.executor, "grid": args.grid, "grid_keys": list(grid[0]),
                "fixed": fixed, "points": points}
        written = sweep.write_sweep(table, outcomes, meta, claimed.path)
    except BaseException:
        claimed.discard()
        raise
    failed = sum(o.error is not None for o in outcomes)
    print(sweep.markdown_table(table))
    print(f"sweep: {written}/ ({len(outcomes)} points, {failed} failed)")
    return 1 if failed else 0


def _resume_config(experiment, run_dir: Path):
    """The configuration saved in an RL run folder, for `--resume`."""
    from mixmo.app import output
    from mixmo.experiments import ConfigError

    saved = run_dir / "config.json"
    if not saved.is_file():
        raise ConfigError(f"--resume {run_dir}: no config.json there; give the folder of an RL run (its --out).")
    if (run_dir / "report.md").exists():
        raise ConfigError(f"--resume {run_dir}: that run has finished (report.md exists); nothing to resume.")
    return output.read_config(experiment, saved)


def _run_with_context(args, experiment, config, out_dir: Path, progress) -> int | tuple:
    """Run an experiment that keeps checkpoints/logs in its results folder (the RL experiments)."""
    from mixmo import rl
    from mixmo.app import output, runner
    from mixmo.experiments import ConfigError

    try:
        rl.check_loggers(args.logger)
    except rl.LoggerUnavailable as error:
        raise ConfigError(str(error)) from None
    resume_hint = f"continue with: mixmo run {args.name} --resume {out_dir}"
    try:
        return (runner.run_in_folder(experiment, config, progress, out_dir, resume=bool(args.resume),
                                     loggers=tuple(args.logger)),)
    except rl.NonFiniteError as error:
        print(f"mixmo: stopped: {error}", file=sys.stderr)
        return 1
    except rl.CheckpointError as error:
        where = error.path if error.path.is_dir() else error.path.parent
        raise ConfigError(f"--resume {out_dir}: {error}: delete {where} to restart that run from scratch, or "
                          f"the whole {out_dir}.") from None
    except rl.TrainingInterrupted as error:
        print(f"mixmo: interrupted ({error}); {resume_hint}", file=sys.stderr)
        return 128 + error.signum
    except KeyboardInterrupt:
        if output.resumable(out_dir):
            print(f"mixmo: interrupted; the checkpoints so far are in {out_dir}/checkpoints; {resume_hint}",
                  file=sys.stderr)
        elif args.resume:
            print(f"mixmo: interrupted before a new checkpoint; {out_dir} is as it was; {resume_hint}",
                  file=sys.stderr)
        else:
            raise _NothingKept() from None
        return 130


class _NothingKept(KeyboardInterrupt):
    """Interrupted before the first checkpoint: the run's folder is removed (nothing to resume)."""


def _show_config(resolved, as_json: bool) -> int:
    import json

    from mixmo import config as config_tree

    if as_json:
        print(json.dumps(config_tree.to_dict(resolved.config), indent=2))
    else:
        print("\n".join(config_tree.describe(resolved)))
    return 0


def _run(args, console: Console) -> int:
    from mixmo import experiments
    from mixmo.app import output, runner
    from mixmo.experiments import ConfigError
    from mixmo.experiments.method_ids import DISPLAY

    experiment = experiments.get(args.name)
    if (args.resume or args.logger or args.keep_checkpoints) and not experiment.run_folder:
        rl_names = sorted(e.name for e in experiments.load_all().values() if e.run_folder)
        raise ConfigError(f"--resume, --logger and --keep-checkpoints are for the RL experiments "
                          f"({', '.join(rl_names)}), not {args.name}.")
    if args.json and not args.show_config:
        raise ConfigError("--json goes with --show-config; add --show-config.")
    if args.resume:
        if args.overrides or args.preset or args.seeds is not None or args.steps is not None or args.out is not None:
            raise ConfigError(f"--resume {args.resume} continues that run with its own config.json; "
                              "drop --preset, --set, --seeds, --steps and --out.")
        from mixmo.config import Resolved, leaves

        config = _resume_config(experiment, args.resume)
        resolved = Resolved(config, dict.fromkeys(leaves(type(config)), f"{args.resume}/config.json"))
    else:
        resolved = experiment.resolve(args.preset, _with_budget_flags(args, experiment))
        config = resolved.config
    if args.show_config:
        return _show_config(resolved, args.json)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    # a new folder is made before any work, and taken back if the run ends without results or checkpoints
    claimed = None if args.resume else output.prepare_out_dir(args.out or Path("results") / args.name / stamp)
    out_dir = args.resume or claimed.path
    keep = False
    try:
        with runner.progress_bar(args.quiet) as bar:
            progress, _ = runner.progress_callback(bar, args.name)
            if experiment.run_folder:
                outcome = _run_with_context(args, experiment, config, out_dir, progress)
                if isinstance(outcome, int):
                    keep = True  # stopped: the checkpoints stay for --resume or inspection
                    return outcome
                (results,) = outcome
            else:
                results = experiment.run(config, progress)
        table = output.summary_table(results, args.name, DISPLAY, runs=_runs(experiment, config))
        output.print_table(console, table)
        for note in results.notes:
            console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
        written = output.write_results(results, config, out_dir, args.name)
        keep = True
    except _NothingKept:
        print(f"mixmo: interrupted before the first checkpoint; nothing to resume, {out_dir} removed.",
              file=sys.stderr)
        return 130
    finally:
        if not keep and claimed is not None and not (experiment.run_folder and output.resumable(out_dir)):
            claimed.discard()
    if experiment.run_folder and not args.keep_checkpoints:
        output.drop_checkpoints(out_dir)
    kept = ", checkpoints/" if args.keep_checkpoints else ""
    policies = ", policies/" if (out_dir / "policies").is_dir() else ""
    console.print(f"results: {written}/ (report.md, summary.json, metrics.csv, figures{policies}{kept})",
                  highlight=False, soft_wrap=True)
    return 0


def _runs(experiment, config) -> int | None:
    """The experiment's number of independent runs (its seeds setting), if it has one."""
    from mixmo import config as config_tree

    if experiment.seeds_key is None:
        return None
    value = config_tree.get(config, experiment.seeds_key)
    return value if isinstance(value, int) else None


def _reproduce(args, argv: list[str] | None) -> int:
    from mixmo.app import reproduce
    from mixmo.experiments import ConfigError, verdicts

    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out DIR, the folder of the run to continue.")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or Path("results") / "reproduce" / f"{args.paper}-{args.budget}-{stamp}"
    command = "mixmo " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        path, outcomes = reproduce.reproduce(args.paper, args.budget, out_dir, seeds=args.seeds, resume=args.resume,
                                             quiet=args.quiet, command=command)
    except KeyboardInterrupt as error:
        print(f"mixmo: interrupted; the experiments finished so far are in {out_dir}; continue with: mixmo reproduce "
              f"{args.paper} --budget {args.budget} --out {out_dir} --resume", file=sys.stderr)
        return 128 + getattr(error, "signum", 2)
    failed = [o.name for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    counts = verdicts.count(claim for outcome in outcomes for claim in outcome.claims)
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    print(f"reproduce: {path} ({len(outcomes)} experiments, {len(failed)} failed, {len(skipped)} skipped; "
          f"claims: {summary or 'none'})")
    for outcome in skipped:
        print(f"mixmo: skipped {outcome.name} — {outcome.error}", file=sys.stderr)
    if failed:
        print(f"mixmo: failed: {', '.join(failed)} (see {path})", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mixmo` command; returns the exit status."""
    args = _parser().parse_args(argv)
    console = Console()
    from mixmo.experiments import ConfigError

    try:
        if args.command in ("run", "sweep", "reproduce", "render") and not getattr(args, "show_config", False):
            from mixmo import compile_cache

            compile_cache.enable()  # a second run of the same configuration starts without compiling
        if args.command == "list":
            return _list()
        if args.command == "sweep":
            return _sweep(args, console)
        if args.command == "envs":
            return _envs()
        if args.command == "render":
            return _render(args)
        if args.command == "reproduce":
            return _reproduce(args, argv)
        return _run(args, console)
    except ConfigError as error:
        print(f"mixmo: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except OSError as error:
        print(f"mixmo: error: cannot write results: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mixmo: interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
