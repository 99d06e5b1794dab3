"""python -m engine: train, resume, bench, runs, export, params. Runs started here show up in the app."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from engine.labs import LABS, get_lab
from engine.params import ConfigError, parse_assignments
from engine.runtime.access import OPERATOR
from engine.runtime.store import Status, Store


def _progress_line(run) -> str:
    width = 30
    filled = int(run.progress * width)
    eta = f"ETA {run.eta_seconds:4.0f}s" if run.eta_seconds is not None else ""
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {run.progress:6.1%} {run.stage:<20} {run.status:<8} {eta}"


def _manager(args: argparse.Namespace):
    from engine.runtime.jobs import JobManager

    if getattr(args, "ray", None):
        os.environ["DREAMLAB_RAY_ADDRESS"] = args.ray  # as if the deployment named the cluster
    return JobManager(args.data)


def cmd_train(args: argparse.Namespace) -> int:
    manager = _manager(args)
    if args.parent is None:
        run_id = manager.submit(args.lab, parse_assignments(args.set), preset=args.preset, by=OPERATOR)
    else:
        parent = manager.store.get_run(args.parent)
        if parent is not None and parent.lab != args.lab:
            raise ConfigError(f"run {args.parent} is a {parent.lab} run, not {args.lab}")
        if args.preset:
            raise ConfigError("--preset and --from: a branch takes its parent's values, changed only by --set")
        run_id = manager.branch(args.parent, parse_assignments(args.set), by=OPERATOR)
    print(f"run {run_id} queued ({args.lab}); follow it in the app's Runs page too", file=sys.stderr)
    return _follow(manager, run_id, args)


def cmd_resume(args: argparse.Namespace) -> int:
    manager = _manager(args)
    manager.resume(args.run, by=OPERATOR)
    print(f"run {args.run} queued to resume from its checkpoint", file=sys.stderr)
    return _follow(manager, args.run, args)


def _follow(manager, run_id: int, args: argparse.Namespace) -> int:
    """A progress bar until the run ends (Ctrl-C stops it cleanly), then its status and summary."""
    try:
        while (run := manager.store.get_run(run_id)).active:
            if not args.json:
                print(_progress_line(run), end="", file=sys.stderr, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping cleanly…", file=sys.stderr)
        manager.stop(run_id, by=OPERATOR)
        manager.wait(run_id)
    manager.shutdown()
    run = manager.store.get_run(run_id)
    print(file=sys.stderr)
    if args.json:
        print(json.dumps({"run": run_id, "status": run.status, "error": run.error, "summary": run.summary}))
    else:
        print(f"run {run_id}: {run.status}")
        for key, value in run.summary.items():
            print(f"  {key}: {value}")
        if run.error:
            print(run.error, file=sys.stderr)
    return 0 if run.status in (Status.DONE, Status.STOPPED) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    if args.seeds is not None:
        return _bench_seeds(args)
    if args.jobs is not None:
        raise ConfigError("--jobs: only with --seeds")
    started_at = time.time()  # before torch's import: a child of a seed sweep says when it ran
    import torch

    from engine.context import LocalContext

    torch.set_num_threads(1)
    lab = get_lab(args.lab)
    config = lab.space.resolve(args.preset, parse_assignments(args.set))
    ctx = LocalContext(config, quiet=args.json)
    started = time.perf_counter()
    figures = lab.bench_fn()(config, ctx)
    figures = {
        "lab": args.lab,
        "preset": args.preset,
        "config": config,
        "bench_wall_seconds": round(time.perf_counter() - started, 2),
        **figures,
        "started_at": started_at,
        "ended_at": time.time(),
    }
    if not args.json:
        print(file=sys.stderr)
    print(json.dumps(figures, indent=None if args.json else 2))
    return 0


def _bench_seeds(args: argparse.Namespace) -> int:
    """The bench once per seed, each in its own one-thread process, spread over the cores (engine/runtime/seeds.py)."""
    from engine.runtime import seeds

    chosen = seeds.parse_seeds(args.seeds)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: at least 1")
    seeds.check_configs(args.lab, args.preset, args.set, chosen)

    def report(record: dict) -> None:
        if not args.json:
            outcome = f"failed: {record['error']}" if "error" in record else "done"
            print(f"seed {record['seed']} {outcome} ({record['wall_seconds']:.0f} s)", file=sys.stderr, flush=True)

    result = seeds.run_seeds(args.lab, args.preset, args.set, chosen, args.jobs, on_done=report)
    print(json.dumps(result) if args.json else "\n".join(seeds.summary_lines(result)))
    return 0 if all("figures" in record for record in result["per_seed"]) else 1


def cmd_runs(args: argparse.Namespace) -> int:
    runs = Store(args.data).list_runs(lab=args.lab)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "lab": r.lab,
                        "status": r.status,
                        "progress": r.progress,
                        "created": r.created,
                        "summary": r.summary,
                    }
                    for r in runs
                ]
            )
        )
        return 0
    print(f"{'id':>5}  {'lab':<12} {'status':<8} {'progress':>8}  created")
    for r in runs:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        print(f"{r.id:>5}  {r.lab:<12} {r.status:<8} {r.progress:>8.0%}  {created}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = Store(args.data)
    if store.get_run(args.run) is None:
        raise ConfigError(f"no run {args.run}")
    text = store.metrics_csv(args.run)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    space = get_lab(args.lab).space
    for p in space.params:
        if p.choices:
            bounds = f"one of {', '.join(map(str, p.choices))}"
        elif p.kind in (bool, str):
            bounds = p.kind.__name__
        else:
            bounds = f"[{p.low}, {p.high}]"
        when = "live " if p.live else "branch " if p.branch else ""  # changeable while training / in a branch
        print(f"{p.name:<16} {p.default!s:<14} {bounds:<28} {when}{p.help}")
    print("presets:", ", ".join(f"{name} ({json.dumps(values)})" for name, values in space.presets.items()))
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    try:  # a tool the app never runs: this command is its thin entry
        from tools.load import run_load, run_watch
    except ModuleNotFoundError as error:
        raise ConfigError(f"the load client is in tools/, not here ({error}): run it from a checkout") from None

    if args.watch:
        result = run_watch(args.url, args.watch, args.run, args.seconds, args.server_pid, warmup=args.warmup)
    else:
        pages = args.pages.split(",") if args.pages else None
        result = run_load(
            args.url,
            args.visitors,
            args.trainers,
            args.seconds,
            pages,
            args.server_pid,
            args.ramp,
            warm=not args.cold,
            flood=args.flood,
        )
    if args.json:
        print(json.dumps(result))
        return 0
    for key, value in result.items():
        if key == "per_visitor":
            for visitor in value:
                print("  " + " ".join(f"{k}={v}" for k, v in visitor.items()))
        else:
            print(f"{key}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Dreamlab's engine from the command line.")
    parser.add_argument("--data", help="data directory (default: $DREAMLAB_DATA or ~/.dreamlab)")
    commands = parser.add_subparsers(dest="command", required=True)
    labs = list(LABS)

    def lab_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("lab", choices=labs)
        command.add_argument("--preset", help="a named preset (see `params LAB`)")
        command.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="override one hyperparameter; repeatable"
        )
        command.add_argument("--json", action="store_true", help="print one JSON object")
        return command

    ray_help = "run the worker on this Ray cluster (HOST:PORT or auto; default: $DREAMLAB_RAY_ADDRESS, else here)"
    train = lab_command("train", "train a lab in a worker, with a progress bar; Ctrl-C stops cleanly")
    train.set_defaults(handler=cmd_train)
    train.add_argument("--ray", metavar="ADDRESS", help=ray_help)
    train.add_argument(
        "--from",
        dest="parent",
        type=int,
        metavar="RUN",
        help="branch: start from RUN's checkpoint, with its values changed by --set",
    )
    resume = commands.add_parser("resume", help="continue a stopped or failed run from its checkpoint")
    resume.add_argument("run", type=int)
    resume.add_argument("--ray", metavar="ADDRESS", help=ray_help)
    resume.add_argument("--json", action="store_true", help="print one JSON object")
    resume.set_defaults(handler=cmd_resume)
    bench = lab_command("bench", "train in this process, evaluate, print the figures")
    bench.set_defaults(handler=cmd_bench)
    bench.add_argument(
        "--seeds",
        metavar="N|S,S,…",
        help="the bench for seeds 0..N-1 (or these seeds), a process each, spread over the cores: "
        "each seed's figures and their mean ± standard error",
    )
    bench.add_argument("--jobs", type=int, help="with --seeds: how many seeds at once (default: one per usable core)")
    runs = commands.add_parser("runs", help="list runs")
    runs.add_argument("--lab", choices=labs)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=cmd_runs)
    export = commands.add_parser("export", help="a run's metrics as CSV (step,name,value)")
    export.add_argument("run", type=int)
    export.add_argument("--out", help="file to write (default: stdout)")
    export.set_defaults(handler=cmd_export)
    params = commands.add_parser("params", help="a lab's hyperparameters, bounds and presets")
    params.add_argument("lab", choices=labs)
    params.set_defaults(handler=cmd_params)
    load = commands.add_parser(
        "load",
        help="simulated visitors on a running app (Streamlit's websocket protocol): "
        "server CPU per visitor, health and first-figure latency, Train outcomes",
    )
    load.add_argument("url", help="the app, e.g. http://127.0.0.1:8501")
    load.add_argument("--visitors", type=int, default=20, help="browser tabs in all (default 20)")
    load.add_argument("--trainers", type=int, default=5, help="of them, how many press Train (default 5)")
    load.add_argument("--seconds", type=float, default=60, help="how long everyone stays (default 60)")
    load.add_argument("--pages", help="comma-separated url paths the watchers spread over (default: every lab, runs)")
    load.add_argument("--ramp", type=float, help="seconds over which the visitors arrive (default min(5, seconds/4))")
    load.add_argument(
        "--server-pid", type=int, help="the Streamlit server's pid (default: whoever listens on the URL's local port)"
    )
    load.add_argument("--cold", action="store_true", help="do not open each page once before the crowd arrives")
    load.add_argument(
        "--flood", type=int, default=0, help="and one client that opens this many cookies, all pressing Train at once"
    )
    load.add_argument("--watch", metavar="PAGE", help="instead: one viewer on PAGE, its cost to the server")
    load.add_argument("--run", type=int, help="with --watch: the run to open (?run=ID)")
    load.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="with --watch: seconds after the first render that are not measured (default 5)",
    )
    load.add_argument("--json", action="store_true", help="print one JSON object")
    load.set_defaults(handler=cmd_load)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
