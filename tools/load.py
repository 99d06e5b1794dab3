"""`python -m engine load` (tools/load.py): simulated visitors that speak Streamlit's own websocket protocol.

A real browser costs the machine more than the server it measures (ten headless Chromiums on two cores pushed the
health check past 5 s), so each visitor here is a few hundred lines of asyncio: it opens `/_stcore/stream`, asks for
a page the way the frontend does (a `rerun_script` BackMsg naming the page), reads the ForwardMsgs (deltas, message
cache references, fragment auto-reruns), and behaves like a person: trainers press Train (the button's trigger
widget state, found by its label in the delta stream), move a live slider once their run is running, and everyone
keeps watching, re-running the page's `run_every` fragments on the server's schedule as the browser would.

It reports the server's CPU per visitor (utime + stime of the server process from /proc), the health endpoint's
latency (a side loop), time to first figure, exception deltas, and what each Train press got: a run that ran, a
queue position, the busy message, or nothing (a lost run). Every loop is bounded by the deadline; it stops by itself
and only ever talks to the URL it is given. The app never imports this module; only the `load` command does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlparse

from engine.labs import LABS
from engine.runtime.access import VISITOR_COOKIE  # the app keeps a visitor in it; each simulated browser has its own
from engine.runtime.store import Status

LAB_PAGES = tuple(sorted(lab.url for lab in LABS.values()))
TRAIN_LABEL = "Train"
TRAIN_TIMEOUT = 30.0  # seconds a Train press has to show a run, a queue position or the busy message
GRACE = 60.0  # past the watch period, how long a visitor still waits for its first page or its Train's answer
HEALTH_EVERY = 0.5
HEALTH_TIMEOUT = 5.0
RUN_ID = re.compile(r"#(\d+)")
BUSY = re.compile(r"\bbusy\b", re.IGNORECASE)
POSITION = re.compile(
    r"position\s*#?\s*\d+|\b\d+(?:st|nd|rd|th)?\s+in\s+(?:the\s+)?(?:queue|line)|\d+\s+(?:runs?\s+)?"
    r"ahead",
    re.IGNORECASE,
)
ACKNOWLEDGED = re.compile(r"sent to run|not applied", re.IGNORECASE)  # the toast a live change gets
REFUSED = re.compile(r"^\s*not started", re.IGNORECASE)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# the server process ------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port, from /proc/net/tcp{,6} and the processes' socket fds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{parts[9]}]")
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                        return int(entry)
    return None


def load_average() -> list[float]:
    with open("/proc/loadavg") as text:
        return [float(x) for x in text.read().split()[:3]]


class CpuMeter:
    """The server's CPU over a window, as % of one core."""

    def __init__(self, pid: int | None):
        self.pid = pid
        self.start_cpu = self.start_wall = None

    def start(self) -> None:
        if self.pid:
            self.start_cpu, self.start_wall = cpu_seconds(self.pid), time.monotonic()

    def percent(self) -> float | None:
        if not self.pid or self.start_cpu is None:
            return None
        wall = time.monotonic() - self.start_wall
        return 100 * (cpu_seconds(self.pid) - self.start_cpu) / wall if wall > 0 else None


# one visitor -------------------------------------------------------------------------------------------------------


def _texts(element) -> list[str]:
    """The words a person would read in an element (markdown, alerts, progress, toasts, headings, text)."""
    kind = element.WhichOneof("type")
    if kind in ("markdown", "alert", "toast", "text", "heading"):
        return [getattr(element, kind).body]
    if kind == "progress":
        return [element.progress.text]
    if kind == "exception":
        return [element.exception.message]
    return []


@dataclass
class Outcome:
    """What one Train press got."""

    kind: str  # ran | queued | queued_no_position | busy | refused | failed | lost
    run: int | None = None
    seconds: float = 0.0
    text: str = ""


@dataclass
class VisitorReport:
    page: str
    trainer: bool
    connected: bool = False
    first_figure: float | None = None  # seconds from connect to the first plotly_chart element
    first_render: float | None = None  # seconds from connect to the end of the first full run
    exceptions: list[str] = field(default_factory=list)
    outcome: Outcome | None = None
    slider_moved: bool = False
    slider_acknowledged: bool = False
    full_runs: int = 0
    fragment_runs: int = 0
    messages: int = 0
    bytes: int = 0
    error: str = ""


class Visitor:
    """One browser tab, as the Streamlit frontend drives it, without a browser."""

    def __init__(
        self,
        url: str,
        page: str,
        deadline: float,
        trainer: bool = False,
        query: dict | None = None,
        cookie: str | None = None,
        grace: float = GRACE,
        address: str = "",
    ):
        parsed = urlparse(url)
        self.base = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
        self.stream = (
            ("wss" if parsed.scheme == "https" else "ws")
            + f"://{parsed.netloc}"
            + f"{parsed.path.rstrip('/')}/_stcore/stream"
        )
        self.page, self.deadline, self.trainer = page, deadline, trainer
        self.grace = grace  # a slow server still gets to answer: first page and Train outcomes wait this much longer
        self.query_string = urlencode(query or {})
        self.cookie = cookie if cookie is not None else f"{VISITOR_COOKIE}={secrets.token_hex(16)}"
        self.address = address  # sent as X-Forwarded-For: the client it is, to a server that trusts this machine
        self.report = VisitorReport(page, trainer)
        self.page_script_hash = ""
        self.navigated = False
        self.socket = None
        self.connected_at = 0.0
        # path → (script run id, fragment id, element): what the page shows, pruned like the frontend does
        self.elements: dict[tuple[int, ...], tuple[str, str, Any]] = {}
        self.current_run = ""
        self.current_fragments: tuple[str, ...] = ()
        self.cache: dict[str, list] = {}  # message hash → [message, age in full runs]
        self.max_cache_age = 2
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}
        self.full_runs_finished = 0

    # protocol ------------------------------------------------------------------------------------------------------

    async def send_rerun(self, widget_states: list | None = None, fragment_id: str = "", auto: bool = False) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        if not self.page_script_hash:
            state.page_name = self.page
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self.cache)
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        state.context_info.url = f"{self.base}/{self.page}" + (f"?{self.query_string}" if self.query_string else "")
        for widget in widget_states or ():
            state.widget_states.widgets.append(widget)
        with contextlib.suppress(Exception):
            await self.socket.send(message.SerializeToString())

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """The frontend's setInterval for a `run_every` fragment."""
        while time.monotonic() + interval < self.deadline:
            await asyncio.sleep(interval)
            await self.send_rerun(fragment_id=fragment_id, auto=True)

    def _cancel_timers(self, ids=None) -> None:
        for fragment_id in list(ids if ids is not None else self.timers):
            entry = self.timers.pop(fragment_id, None)
            if entry:
                entry[1].cancel()

    def _prune(self, run_id: str, fragment_ids: tuple[str, ...]) -> None:
        """Drop elements the finished run did not re-emit (the frontend's clearStaleNodes, simplified)."""
        for path, (element_run, fragment, _) in list(self.elements.items()):
            stale = element_run != run_id
            if stale and (not fragment_ids or fragment in fragment_ids):
                del self.elements[path]

    def handle(self, message) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        kind = message.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.cache.get(message.ref_hash)
            if cached is None:
                self.report.error = "server referenced a message this client never cached"
                return
            cached[1] = 0
            original = ForwardMsg()
            original.CopyFrom(cached[0])
            original.metadata.CopyFrom(message.metadata)
            message, kind = original, original.WhichOneof("type")
        elif message.metadata.cacheable and message.hash:
            self.cache[message.hash] = [message, 0]
        now = time.monotonic() - self.connected_at
        if kind == "new_session":
            if not self.navigated:  # with st.navigation, the page's own hash arrives in the navigation message
                self.page_script_hash = message.new_session.page_script_hash
            if message.new_session.HasField("config"):
                self.max_cache_age = message.new_session.config.max_cached_message_age or self.max_cache_age
            self.current_run = message.metadata.run.script_run_id
            self.current_fragments = tuple(message.metadata.run.fragment_ids)
            if self.current_fragments:
                self.report.fragment_runs += 1
            else:
                self.report.full_runs += 1
                self._cancel_timers()
        elif kind == "delta":
            delta = message.delta
            if delta.WhichOneof("type") == "new_element":
                element = delta.new_element
                path = tuple(message.metadata.delta_path)
                self.elements[path] = (self.current_run, delta.fragment_id, element)
                element_kind = element.WhichOneof("type")
                if element_kind == "plotly_chart" and self.report.first_figure is None:
                    self.report.first_figure = now
                elif element_kind == "exception" and not element.exception.is_warning:
                    self.report.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
                elif element_kind == "toast" and ACKNOWLEDGED.search(element.toast.body):
                    self.report.slider_acknowledged = True
        elif kind == "navigation":
            self.navigated = True
            self.page_script_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "auto_rerun":
            fragment_id, interval = message.auto_rerun.fragment_id, message.auto_rerun.interval
            if fragment_id and self.timers.get(fragment_id, (None,))[0] != interval:
                self._cancel_timers([fragment_id])
                self.timers[fragment_id] = (interval, asyncio.ensure_future(self._auto_rerun(fragment_id, interval)))
        elif kind == "stop_auto_rerun":
            self._cancel_timers(list(message.stop_auto_rerun.fragment_ids))
        elif kind == "session_event" and message.session_event.HasField("script_compilation_exception"):
            exception = message.session_event.script_compilation_exception
            self.report.exceptions.append(f"{exception.type}: {exception.message}"[:300])
        elif kind == "page_not_found":
            self.report.error = f"page not found: {self.page}"
        elif kind == "script_finished":
            status = message.script_finished
            if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                run = message.metadata.run
                self._prune(run.script_run_id or self.current_run, tuple(run.fragment_ids))
            if status == ForwardMsg.FINISHED_SUCCESSFULLY:
                if self.report.first_render is None:
                    self.report.first_render = now
                for entry in self.cache.values():
                    entry[1] += 1
                for key in [k for k, v in self.cache.items() if v[1] > self.max_cache_age]:
                    del self.cache[key]
                self.full_runs_finished += 1

    # what the page shows ---------------------------------------------------------------------------------------------

    def widgets(self, kind: str) -> list:
        return [element for _, _, element in self.elements.values() if element.WhichOneof("type") == kind]

    def texts(self) -> list[str]:
        return [text for _, _, element in self.elements.values() for text in _texts(element)]

    def run_ids(self) -> dict[int, str]:
        """Every run id the page names (run picker, progress bar) → the status it is shown with."""
        seen: dict[int, str] = {}
        lines = self.texts() + [option for box in self.widgets("selectbox") for option in box.selectbox.options]
        for line in lines:
            for match in RUN_ID.finditer(line):
                rest = line[match.end() : match.end() + 40].lower()
                status = next((word for word in Status if word in rest), "")
                seen[int(match.group(1))] = seen.get(int(match.group(1))) or status
        return seen

    def button(self, label: str):
        return next(
            (b.button for b in self.widgets("button") if b.button.label == label and not b.button.disabled), None
        )

    # behaviour -------------------------------------------------------------------------------------------------------

    @property
    def hard_deadline(self) -> float:
        return self.deadline + self.grace if self.deadline else 0

    async def wait_full_run(self, timeout: float, after: int | None = None) -> bool:
        """Until a full run finishes (after the `after`-th one, default: the next), bounded by timeout and the
        visitor's hard deadline."""
        after = self.full_runs_finished if after is None else after
        give_up = min(time.monotonic() + timeout, self.hard_deadline)
        while self.full_runs_finished <= after:
            if time.monotonic() >= give_up:
                return False
            await asyncio.sleep(0.05)
        return True

    async def press_train(self) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        button = self.button(TRAIN_LABEL)
        if button is None:
            self.report.error = f"no enabled {TRAIN_LABEL} button on {self.page}"
            return
        before = set(self.run_ids())
        pressed = time.monotonic()
        finished = self.full_runs_finished
        await self.send_rerun([WidgetState(id=button.id, trigger_value=True)])
        give_up = min(pressed + TRAIN_TIMEOUT, self.hard_deadline)
        outcome = None
        while time.monotonic() < give_up:
            await self.wait_full_run(give_up - time.monotonic(), finished)
            finished = self.full_runs_finished
            outcome = self.train_outcome(before, pressed)
            if outcome is not None and outcome.kind != "queued_no_position":
                break
            if outcome is not None:  # queued without a position yet: look again in a second, as a reload would
                await asyncio.sleep(1.0)
                finished = self.full_runs_finished
                await self.send_rerun()
        self.report.outcome = outcome or Outcome("lost", seconds=time.monotonic() - pressed)

    def train_outcome(self, before: set[int], pressed: float) -> Outcome | None:
        texts = self.texts()
        seconds = time.monotonic() - pressed
        for text in texts:
            if BUSY.search(text):
                return Outcome("busy", seconds=seconds, text=text[:200])
            if REFUSED.search(text):
                return Outcome("refused", seconds=seconds, text=text[:200])
        new = {run: status for run, status in self.run_ids().items() if run not in before}
        if not new:
            return None
        run, status = max(new.items())
        if status in (Status.RUNNING, Status.PAUSED, Status.DONE, Status.STOPPED):
            return Outcome("ran", run, seconds)
        if status == Status.FAILED:
            return Outcome("failed", run, seconds)
        position = next((text for text in texts if POSITION.search(text)), None)
        if position:
            return Outcome("queued", run, seconds, position[:200])
        return Outcome("queued_no_position", run, seconds)

    async def move_live_slider(self) -> None:
        """Once the visitor's run is running: change one live control, as a person dragging a slider would."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        for _ in range(20):
            if time.monotonic() > self.deadline - 2:
                return
            sliders = [s.slider for s in self.widgets("slider") if ".live." in s.slider.id and not s.slider.disabled]
            if sliders:
                slider = sliders[0]
                state = WidgetState(id=slider.id)
                if slider.options:  # a select_slider (log-scale parameters): another stop, by its label
                    current = slider.value[0] if slider.value else slider.default[0] if slider.default else 0
                    index = int(current) + 1 if int(current) + 1 < len(slider.options) else int(current) - 1
                    state.string_array_value.data.append(slider.options[index])
                else:
                    current = (slider.value or slider.default or [slider.min])[0]
                    target = current + slider.step if current + slider.step <= slider.max else current - slider.step
                    state.double_array_value.data.append(target)
                await self.send_rerun([state])
                self.report.slider_moved = True
                return
            finished = self.full_runs_finished
            await self.send_rerun()
            await self.wait_full_run(
                2.0, finished
            )  # the run went from queued to running: the whole page shows its controls

    async def run(self) -> VisitorReport:
        import websockets
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        headers = {"Cookie": self.cookie} if self.cookie else {}
        headers |= {"X-Forwarded-For": self.address} if self.address else {}
        try:
            async with websockets.connect(
                self.stream,
                subprotocols=["streamlit"],
                max_size=None,
                proxy=None,
                additional_headers=headers,
                open_timeout=15,
            ) as socket:
                self.socket = socket
                self.connected_at = time.monotonic()
                self.report.connected = True
                reader = asyncio.ensure_future(self._read(ForwardMsg))
                try:
                    await self.send_rerun()
                    if await self.wait_full_run(self.hard_deadline - time.monotonic(), 0) and self.trainer:
                        await self.press_train()
                        if self.report.outcome and self.report.outcome.kind == "ran":
                            await self.move_live_slider()
                    await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
                finally:
                    self._cancel_timers()
                    if reader.done() and not reader.cancelled() and reader.exception() is not None:
                        error = reader.exception()
                        self.report.error = self.report.error or f"dropped: {type(error).__name__}: {error}"[:300]
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reader
        except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as error:
            # a visitor that cannot connect or is dropped is a finding, not a crash of the tool
            self.report.error = self.report.error or f"{type(error).__name__}: {error}"[:300]
        return self.report

    async def _read(self, forward_msg_type) -> None:
        async for data in self.socket:
            self.report.messages += 1
            self.report.bytes += len(data)
            message = forward_msg_type()
            message.ParseFromString(data)
            self.handle(message)


# the health endpoint, in a side loop ------------------------------------------------------------------------------


async def health_loop(url: str, deadline: float, latencies: list[float], failures: list[str]) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def probe() -> float:
        started = time.monotonic()
        with opener.open(f"{url.rstrip('/')}/_stcore/health", timeout=HEALTH_TIMEOUT) as response:
            response.read()
        return time.monotonic() - started

    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            latencies.append(await asyncio.to_thread(probe))
        except OSError as error:  # URLError, timeouts, refused connections
            failures.append(f"{type(error).__name__}: {error}"[:200])
            latencies.append(time.monotonic() - started)
        await asyncio.sleep(max(0.0, HEALTH_EVERY - (time.monotonic() - started)))


# the two modes -------------------------------------------------------------------------------------------------------


def _server_pid(url: str, pid: int | None) -> int | None:
    if pid:
        return pid
    parsed = urlparse(url)
    if parsed.hostname in ("127.0.0.1", "localhost", "::1") and parsed.port:
        return listening_pid(parsed.port)
    return None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


async def warm_up(url: str, pages: list[str], timeout: float = 180) -> dict[str, float | None]:
    """Open each page once, one after the other, until its first run finished: a cold server imports torch and fills
    its caches on the first visit, which is not what a crowd measures. Page → seconds (None: not within timeout)."""
    seconds = {}
    for page in dict.fromkeys(pages):
        visitor = Visitor(url, page, time.monotonic() + timeout)
        task = asyncio.ensure_future(visitor.run())
        await visitor.wait_full_run(timeout, 0)
        seconds[page] = _round(visitor.report.first_render, 2)
        visitor.deadline = 0
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return seconds


FLOOD_ADDRESS = "203.0.113.66"  # the one client that opens many cookies at once (a documentation address)


def crowd_address(index: int) -> str:
    """Each simulated visitor's own client address (documentation ranges, never a real host's)."""
    return f"198.51.{100 + index // 250}.{1 + index % 250}"


async def _load(
    url: str,
    visitors: int,
    trainers: int,
    seconds: float,
    pages: list[str],
    pid: int | None,
    ramp: float,
    warm: bool,
    flood: int = 0,
) -> dict[str, Any]:
    warm_seconds = await warm_up(url, pages) if warm else {}
    meter = CpuMeter(pid)
    idle = CpuMeter(pid)
    idle.start()
    await asyncio.sleep(2.0)  # the server alone, before anyone arrives
    idle_percent = idle.percent()
    started = time.monotonic()
    deadline = started + seconds
    lab_pages = [p for p in pages if p != "runs"] or list(LAB_PAGES)
    crowd = [
        Visitor(url, lab_pages[i % len(lab_pages)], deadline, trainer=True, address=crowd_address(i))
        for i in range(trainers)
    ]
    crowd += [
        Visitor(url, pages[i % len(pages)], deadline, address=crowd_address(i)) for i in range(trainers, visitors)
    ]
    flooders = [  # every one of its tabs at once, as the crowd starts to arrive
        Visitor(url, lab_pages[i % len(lab_pages)], deadline, trainer=True, address=FLOOD_ADDRESS) for i in range(flood)
    ]
    latencies: list[float] = []
    failures: list[str] = []
    meter.start()
    load_before = load_average()

    async def arrive(index: int, visitor: Visitor) -> VisitorReport:
        await asyncio.sleep(ramp * index / max(len(crowd), 1))
        return await visitor.run()

    health = asyncio.ensure_future(health_loop(url, deadline, latencies, failures))
    reports = await asyncio.gather(*(arrive(i, v) for i, v in enumerate(crowd)), *(v.run() for v in flooders))
    await health
    cpu = meter.percent()
    outcomes: dict[str, int] = {}
    flood_outcomes: dict[str, int] = {}
    for index, report in enumerate(reports):
        if report.trainer:
            kind = report.outcome.kind if report.outcome else "lost"
            tally = flood_outcomes if index >= len(crowd) else outcomes
            tally[kind] = tally.get(kind, 0) + 1
    figures = [r.first_figure for r in reports if r.first_figure is not None]
    answers = [r.outcome.seconds for r in reports if r.outcome and r.outcome.kind != "lost"]
    return {
        "url": url,
        "visitors": len(crowd),
        "trainers": trainers,
        "seconds": seconds,
        "server_pid": pid,
        "warm_up_first_render_s": warm_seconds,
        "server_cpu_percent": _round(cpu, 1),
        "server_cpu_idle_percent": _round(idle_percent, 1),
        "server_cpu_percent_per_visitor": _round(cpu / len(crowd), 2) if cpu is not None and crowd else None,
        "health_p50_s": _round(percentile(latencies, 50)),
        "health_p99_s": _round(percentile(latencies, 99)),
        "health_max_s": _round(max(latencies, default=None)),
        "health_probes": len(latencies),
        "health_failures": len(failures),
        "first_figure_p50_s": _round(percentile(figures, 50)),
        "first_figure_p99_s": _round(percentile(figures, 99)),
        "visitors_without_figure": sum(r.first_figure is None for r in reports),
        "exceptions": sum(len(r.exceptions) for r in reports),
        "exception_messages": sorted({m for r in reports for m in r.exceptions})[:10],
        "train_outcomes": outcomes,
        "flood_address": FLOOD_ADDRESS if flood else None,
        "flood_outcomes": flood_outcomes,  # what one client's `flood` cookies got, pressing Train at once
        "runs_lost": outcomes.get("lost", 0) + flood_outcomes.get("lost", 0),
        "train_answer_p50_s": _round(percentile(answers, 50)),
        "train_answer_p99_s": _round(percentile(answers, 99)),
        "sliders_moved": sum(r.slider_moved for r in reports),
        "sliders_acknowledged": sum(r.slider_acknowledged for r in reports),
        "visitor_errors": sorted({r.error for r in reports if r.error})[:10],
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "per_visitor": [
            {
                "page": r.page,
                "trainer": r.trainer,
                "first_figure_s": _round(r.first_figure),
                "first_render_s": _round(r.first_render),
                "exceptions": len(r.exceptions),
                "outcome": r.outcome.kind if r.outcome else None,
                "run": r.outcome.run if r.outcome else None,
                "outcome_s": _round(r.outcome.seconds, 2) if r.outcome else None,
                "outcome_text": r.outcome.text if r.outcome else "",
                "full_runs": r.full_runs,
                "fragment_runs": r.fragment_runs,
                "messages": r.messages,
                "kbytes": round(r.bytes / 1024),
                "error": r.error,
            }
            for r in reports
        ],
    }


async def _watch(
    url: str, page: str, run: int | None, seconds: float, pid: int | None, warmup: float, idle_seconds: float
) -> dict[str, Any]:
    idle = CpuMeter(pid)
    idle.start()
    await asyncio.sleep(idle_seconds)
    idle_percent = idle.percent()
    deadline = time.monotonic() + warmup + seconds + 30
    visitor = Visitor(url, page, deadline, query={"run": run} if run is not None else None)
    task = asyncio.ensure_future(visitor.run())
    # the first render is not what we measure: wait for it, then let the live view settle
    for _ in range(600):
        if visitor.report.first_render is not None or task.done():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(warmup)
    meter = CpuMeter(pid)
    meter.start()
    load_before = load_average()
    runs_before, bytes_before = visitor.report.fragment_runs + visitor.report.full_runs, visitor.report.bytes
    await asyncio.sleep(seconds)
    cpu = meter.percent()
    reruns = visitor.report.fragment_runs + visitor.report.full_runs - runs_before
    kbytes = (visitor.report.bytes - bytes_before) / 1024
    visitor.deadline = 0  # ends the visit
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return {
        "url": url,
        "page": page,
        "run": run,
        "seconds": seconds,
        "server_pid": pid,
        "server_cpu_percent": _round(cpu, 2),
        "server_cpu_idle_percent": _round(idle_percent, 2),
        "viewer_cpu_percent": _round(cpu - idle_percent, 2) if cpu is not None and idle_percent is not None else None,
        "reruns_per_second": round(reruns / seconds, 2),
        "kbytes_per_second": round(kbytes / seconds, 1),
        "first_render_s": _round(visitor.report.first_render),
        "first_figure_s": _round(visitor.report.first_figure),
        "exceptions": visitor.report.exceptions,
        "error": visitor.report.error,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def run_load(
    url: str,
    visitors: int = 20,
    trainers: int = 5,
    seconds: float = 60,
    pages: list[str] | None = None,
    server_pid: int | None = None,
    ramp: float | None = None,
    warm: bool = True,
    flood: int = 0,
) -> dict[str, Any]:
    """The crowd: `visitors` tabs (the first `trainers` of them press Train) for `seconds`; one summary dict.
    With `warm`, each page is first opened once (not measured), so a cold server's imports are not counted. Each
    visitor says it comes from an address of its own (X-Forwarded-For: heard by a server that trusts this machine as
    its proxy, DREAMLAB_TRUSTED_PROXIES=127.0.0.1); `flood` more tabs, one client with as many cookies, press Train
    at the same moment."""
    if trainers > visitors:
        raise ValueError("more trainers than visitors")
    pages = list(pages or (*LAB_PAGES, "runs"))
    ramp = min(5.0, seconds / 4) if ramp is None else ramp
    return asyncio.run(_load(url, visitors, trainers, seconds, pages, _server_pid(url, server_pid), ramp, warm, flood))


def run_watch(
    url: str,
    page: str,
    run: int | None = None,
    seconds: float = 20,
    server_pid: int | None = None,
    warmup: float = 5.0,
    idle_seconds: float = 5.0,
) -> dict[str, Any]:
    """One viewer on one page (optionally a run) for `seconds` after it settled: the server's CPU for it."""
    return asyncio.run(_watch(url, page, run, seconds, _server_pid(url, server_pid), warmup, idle_seconds))
