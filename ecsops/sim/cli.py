"""`ecsops sim serve`: run the simulated AWS endpoint in the foreground (imports moto only when run)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated, Any

import typer

sim_app = typer.Typer(
    help="Simulated AWS (ECS, EC2, Auto Scaling, ELBv2, DynamoDB) for demos and tests.", rich_markup_mode=None
)


@sim_app.callback()
def _sim() -> None:
    """Simulated AWS (ECS, EC2, Auto Scaling, ELBv2, DynamoDB) for demos and tests."""


@sim_app.command()
def serve(
    *,
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1; 0 picks a free one.")] = 5000,
    scenario: Annotated[
        str, typer.Option(help="'demo', 'bluegreen', 'empty' or the path of a JSON scenario file.")
    ] = "demo",
    tick_seconds: Annotated[
        float | None, typer.Option(help="Virtual seconds each ECS/ASG/ELB Describe/List call adds.")
    ] = None,
    clock: Annotated[
        str,
        typer.Option(help="virtual: time moves per read call (tests, demo); wall: time is real time, so tools "
                     "that poll at different rates compare fairly."),
    ] = "virtual",
) -> None:
    """Start the simulated endpoint, seed the scenario, print the environment to use; run until Ctrl-C."""
    from ecsops.sim.scenario import load_scenario
    from ecsops.sim.server import CLOCK_MODES, SimServer

    if clock not in CLOCK_MODES:
        typer.echo(f"ecsops sim serve: --clock must be one of {', '.join(CLOCK_MODES)}, not {clock!r}", err=True)
        raise typer.Exit(2)
    try:
        loaded = load_scenario(None if scenario == "empty" else scenario)
    except (OSError, ValueError) as error:
        typer.echo(f"error: cannot load scenario {scenario!r}: {error}", err=True)
        raise typer.Exit(2) from error
    if tick_seconds is not None:
        loaded = loaded.model_copy(update={"tick_seconds": tick_seconds})
    try:
        server = SimServer(port=port, clock=clock).start()
    except OSError as error:
        typer.echo(f"error: cannot listen on 127.0.0.1:{port}: {error}", err=True)
        raise typer.Exit(2) from error
    seeded = server.reset(loaded)
    # Handlers first: a client may stop the server as soon as it has read the environment lines.
    stopped = _stop_on_signals()
    for line in (
        f"export AWS_ENDPOINT_URL={server.url}",
        "export AWS_ACCESS_KEY_ID=testing",
        "export AWS_SECRET_ACCESS_KEY=testing",
        f"export AWS_DEFAULT_REGION={loaded.region}",
        "export ECSOPS_CLOCK=sim" if clock == "virtual" else "unset ECSOPS_CLOCK",
    ):
        typer.echo(line)
    sys.stdout.flush()
    timing = f"tick {loaded.tick_seconds}s" if clock == "virtual" else "wall clock"
    typer.echo(f"simulated AWS on {server.url} (scenario {scenario}, {timing})", err=True)
    typer.echo(seeded.summary(), err=True)
    typer.echo("Ctrl-C to stop.", err=True)
    while not stopped.wait(0.5):
        pass
    server.stop()


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (handlers installed now)."""
    stop = threading.Event()

    def _handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return stop
