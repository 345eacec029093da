"""SimServer: moto's WSGI app on 127.0.0.1 behind one lock, with request counts, faults, control endpoints."""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from ecsops.sim.clock import VirtualClock
from ecsops.sim.faults import AFTER_EFFECT, FaultInjector, FaultSpec, StartResponse, fault_response
from ecsops.sim.requests import identify, is_read, ticks
from ecsops.sim.scenario import Scenario, load_scenario
from ecsops.sim.seed import Seeded, seed

CONTROL_PREFIX = "/_ecsops/"
SETTLE_SECONDS = 3600.0
CLOCK_MODES = ("virtual", "wall")


class WallClockError(ValueError):
    """Simulated time cannot be moved by hand while it follows the real clock."""


class SimServer:
    """One simulated AWS account served over HTTP on 127.0.0.1.

    `reset(scenario)` wipes moto, the model, counts and faults, then seeds the scenario: seeding happens an
    hour of virtual time before `now()` so instances have booted and services are steady. `seeded` holds the
    created resources (cluster/service/task definition/target group ARNs by name, ASG details).
    Only one SimServer per process drives the model at a time (moto's backends are process-global).

    `clock="virtual"` (tests): time moves only when a client reads (the scenario's tick_seconds per ECS, Auto
    Scaling or ELB Describe/List) or asks (POST /_ecsops/clock/advance), so a deploy takes milliseconds.
    `clock="wall"` (comparing tools that poll at different rates): simulated time is real time; before
    anything is served the model runs every event that fell due since the last request, at its own instant,
    so what a client sees, and when a rollout completed, is as if the model had ticked all along.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", clock: str = "virtual") -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the simulator binds to 127.0.0.1 only")
        if clock not in CLOCK_MODES:
            raise ValueError(f"clock must be one of {', '.join(CLOCK_MODES)}, not {clock!r}")
        self.clock_mode = clock
        self._seeding = False
        self._host = host
        self._port = port
        self.lock = threading.RLock()
        self.clock = VirtualClock()
        self._faults = FaultInjector()
        self._counts: Counter[str] = Counter()
        self.scenario = Scenario()
        self._seeded = Seeded()
        self._model: Any = None
        # A reset left for the simulator's first use (reset_when_used), and the lock that applies it once.
        self._pending: Scenario | None = None
        self._pending_lock = threading.RLock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}
        self._app: Any = None
        self._request_hooks: list[Callable[[str, str], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> SimServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from ecsops.sim import hooks

        hooks.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._app = DomainDispatcherApplication(create_backend_app)
        _remember_moto_lookups(self._app)
        self._server = make_server(self._host, self._port, self._wsgi, threaded=True, request_handler=_quiet_handler())
        self._port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="ecsops-sim", daemon=True
        )
        self._thread.start()
        self.reset(None)
        return self

    def stop(self) -> None:
        from ecsops.sim import hooks

        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        hooks.activate(None)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def use_clock(self, clock: str) -> None:
        """Switch the clock mode; `reset` next, for a fresh account that has lived under that clock."""
        if clock not in CLOCK_MODES:
            raise ValueError(f"clock must be one of {', '.join(CLOCK_MODES)}, not {clock!r}")
        with self.lock:
            self.clock_mode = clock

    def reset_when_used(self, scenario: Scenario | dict[str, Any] | str | None = None) -> None:
        """reset(scenario), done when the simulator is next used (a request, a method, `seeded`, `model`,
        `faults`) unless another reset comes first: a test that starts by resetting to a scenario of its own does
        not pay for seeding this one (pytest_plugin's `sim`). `scenario` already names it."""
        loaded = load_scenario(scenario)
        with self._pending_lock:
            self._pending = loaded
            self.scenario = loaded

    def _use(self) -> None:
        """Apply the reset left for first use, if any (once, whoever uses the simulator first)."""
        if self._pending is None:
            return
        with self._pending_lock:
            if self._pending is not None:
                self.reset(self._pending)

    @property
    def seeded(self) -> Seeded:
        self._use()
        return self._seeded

    @property
    def model(self) -> Any:
        self._use()
        return self._model

    @property
    def faults(self) -> FaultInjector:
        self._use()
        return self._faults

    def reset(self, scenario: Scenario | dict[str, Any] | str | None = None) -> Seeded:
        """Fresh account: wipe every moto backend, the model, counts and faults; seed `scenario`."""
        from moto.moto_api import state_manager
        from moto.moto_api._internal.models import moto_api_backend

        from ecsops.sim import hooks
        from ecsops.sim.model import SimModel

        loaded = load_scenario(scenario)
        with self._pending_lock:
            self._pending = None  # this reset replaces one left for first use
        start = time.time()
        with self.lock:
            moto_api_backend.reset()
            state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
            self.scenario = loaded
            self.clock.reset(start - SETTLE_SECONDS)
            self._model = SimModel.build(loaded, self.clock)
            hooks.activate(self._model)
            self._faults.reset([], loaded.fault_seed)
            self._request_hooks.clear()
            self._seeding = True  # seeding happens an hour ago, whatever the clock mode
        try:
            self._seeded = seed(loaded, self._clients_for(loaded.region))
        finally:
            self._seeding = False
        with self.lock:
            self._model.advance(start - self.clock.now())
            self._model.ecs.stuck_from = self.clock.now()
            self._counts.clear()
            self._faults.reset(loaded.faults, loaded.fault_seed)
        return self._seeded

    # --- observation and control -------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Requests received per "service:Operation" since the last reset (faulted ones included)."""
        self._use()
        with self.lock:
            return dict(self._counts)

    def mutating_calls(self) -> dict[str, int]:
        return {key: n for key, n in self.counts().items() if not is_read(key.split(":", 1)[1])}

    def reset_counts(self) -> None:
        self._use()
        with self.lock:
            self._counts.clear()

    def advance(self, seconds: float) -> float:
        self._use()
        if self.clock_mode == "wall":
            raise WallClockError(
                "the simulator follows the wall clock: its time cannot be advanced; "
                "run clients on the real clock (unset ECSOPS_CLOCK)"
            )
        with self.lock:
            self.model.advance(seconds)
            return self.clock.now()

    def now(self) -> float:
        self._use()
        with self.lock:
            self._catch_up()
            return self.clock.now()

    def rollouts(self) -> list[dict[str, Any]]:
        """Every rolloutState each ECS deployment took, with the simulated time it took it (IN_PROGRESS when it
        was created, then COMPLETED or FAILED), oldest first."""
        self._use()
        with self.lock:
            self._catch_up()
            changes: list[dict[str, Any]] = self.model.rollouts.as_json()
            return changes

    def _catch_up(self) -> None:
        """In wall-clock mode run the model up to the real now (call under the lock)."""
        if self.clock_mode == "wall" and self.model is not None and not self._seeding:
            self.model.advance(max(0.0, time.time() - self.clock.now()))

    def add_fault(self, fault: FaultSpec | dict[str, Any]) -> None:
        self._use()
        with self.lock:
            self.faults.add(fault if isinstance(fault, FaultSpec) else FaultSpec.model_validate(fault))

    def on_request(self, hook: Callable[[str, str], None]) -> None:
        """Call hook(service, operation) as each AWS request is about to be served (after its clock tick, under
        the lock): another actor's move between two calls of the client under test. Cleared by reset."""
        self._use()
        with self.lock:
            self._request_hooks.append(hook)

    def start_one_off_task(self, cluster: str, container_instance_arn: str, family: str, run_seconds: float) -> str:
        """StartTask on one container instance (ACTIVE or DRAINING); the task exits after run_seconds running."""
        self._use()
        with self.lock:
            task = self.model.ecs.runner.start_one_off(cluster, container_instance_arn, family, run_seconds)
            return str(task.arn)

    def client(self, service: str) -> Any:
        """A boto3 client for this simulator (dummy credentials, scenario region)."""
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.scenario.region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def _clients_for(self, region: str) -> dict[str, Any]:
        if self._clients.get("_region") != region or self._clients.get("_url") != self.url:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
            )
            config = Config(retries={"mode": "standard", "total_max_attempts": 1})
            self._clients = {
                name: session.client(name, endpoint_url=self.url, config=config)
                for name in ("ecs", "ec2", "autoscaling", "elbv2")
            }
            self._clients["_region"], self._clients["_url"] = region, self.url
        return self._clients

    # --- WSGI --------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        self._use()
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :].strip("/"))
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        if path.startswith("/moto-api"):
            with self.lock:
                return list(self._app(environ, start_response))
        service, operation = identify(environ, body)
        with self.lock:
            self._counts[f"{service}:{operation}"] += 1
            self._catch_up()
            fault = self.faults.check(service, operation)
            if fault is not None and fault not in AFTER_EFFECT:
                return fault_response(fault, service, environ, start_response)
            if self.clock_mode == "virtual" and ticks(service, operation):
                self.model.advance(self.scenario.tick_seconds)
            for hook in list(self._request_hooks):
                hook(service, operation)
            if fault is not None:
                self._serve(service, operation, environ, body, lambda *_: None)  # takes effect; the answer is lost
                if not is_read(operation):
                    self.model.observe()
                return fault_response(fault, service, environ, start_response)
            response = self._serve(service, operation, environ, body, start_response)
            if not is_read(operation):
                self.model.observe()
            return response

    def _serve(
        self, service: str, operation: str, environ: dict[str, Any], body: bytes, start_response: StartResponse
    ) -> list[bytes]:
        """moto's answer, or the model's for the service-deployment operations moto lacks (call under the lock)."""
        from ecsops.sim import service_deployment_api

        if service == "ecs" and operation in service_deployment_api.OPERATIONS:
            status, document = service_deployment_api.handle(self.model.ecs.strategies, operation, body)
            payload = json.dumps(document).encode()
            start_response(
                "200 OK" if status == 200 else "400 Bad Request",
                [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload))),
                 ("x-amzn-RequestId", str(uuid.uuid4()))],
            )
            return [payload]
        return list(self._app(environ, start_response))

    def service_deployment_changes(self) -> list[dict[str, Any]]:
        """Every status and lifecycle-stage change of every service deployment with its simulated instant `at`,
        oldest first (what "seconds from SUCCESSFUL to a client's exit" is measured against)."""
        self._use()
        with self.lock:
            self._catch_up()
            return [change.as_json() for change in self.model.ecs.strategies.book.changes]

    def _control(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        payload = _read_body(environ)
        try:
            document = json.loads(payload) if payload.strip() else {}
            if (method, route) == ("GET", "clock"):
                result: Any = {"now": self.now()}
            elif (method, route) == ("POST", "clock/advance"):
                result = {"now": self.advance(float(document.get("seconds", 0)))}
            elif (method, route) == ("GET", "requests"):
                result = self.counts()
            elif (method, route) == ("GET", "rollouts"):
                result = self.rollouts()
            elif (method, route) == ("GET", "service-deployments"):
                result = self.service_deployment_changes()
            elif (method, route) == ("POST", "reset"):
                seeded = self.reset(document or None)
                result = {"now": self.now(), "services": seeded.services, "clusters": seeded.clusters}
            elif (method, route) == ("POST", "faults"):
                self.add_fault(document)
                result = {"faults": len(self.faults.rules)}
            else:
                return _json(start_response, "404 Not Found", {"error": f"no control endpoint {method} /{route}"})
        except WallClockError as error:
            return _json(start_response, "409 Conflict", {"error": str(error)})
        except (ValueError, TypeError, KeyError) as error:
            return _json(start_response, "400 Bad Request", {"error": str(error)})
        return _json(start_response, "200 OK", result)


def _remember_moto_lookups(app: Any) -> None:
    """Two answers moto works out again for every request, which never change: the backend serving a host (it
    lists its own package directory and stats each entry) and the action methods of a response class
    (inspect.getmembers). Together a tenth or more of the simulator's time."""
    import moto.core.responses

    app.get_backend_for_host = functools.lru_cache(maxsize=256)(app.get_backend_for_host)
    responses: Any = moto.core.responses
    if not hasattr(responses.method_names_from_class, "cache_info"):
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


def _json(start_response: StartResponse, status: str, document: Any) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _quiet_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        def log(self, *args: Any) -> None:
            pass

    return QuietHandler
