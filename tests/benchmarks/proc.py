"""Run a command and measure it: wall time, the child's own CPU seconds and peak RSS (``wait4``), server CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    """One finished process, measured by the kernel (``wait4``'s rusage is this child's alone)."""

    argv: list[str]
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    """user + sys of the child (and of any children it waited for)."""
    sys_seconds: float
    peak_rss_bytes: int
    """The child's VmHWM, polled: ``wait4``'s ru_maxrss is no use here, as Linux folds the RSS of the
    forked copy of this (large) process into it, so even ``/bin/true`` would show the harness's size."""
    server_cpu_seconds: float
    """CPU the server spent while the child ran (nginx's /proc counters, before and after)."""
    log_path: Path
    machine_busy_seconds: float = 0.0
    """CPU seconds all cores spent busy meanwhile (/proc/stat); minus the child, the server and this
    harness, what other processes on the machine took from the measurement."""
    own_cpu_seconds: float = 0.0
    """This harness's CPU meanwhile (the RSS poller)."""

    @property
    def other_cpu_seconds(self) -> float:
        return max(0.0, self.machine_busy_seconds - self.cpu_seconds - self.server_cpu_seconds
                   - self.own_cpu_seconds)

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def machine_busy_seconds() -> float:
    """CPU seconds spent busy so far, summed over every core (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class PeakRss(threading.Thread):
    """Polls ``/proc/PID/status`` for VmHWM once the child has exec'd (the forked copy still shows our own
    command line; a wrapper such as a pyenv shim may exec more than once, each with a fresh VmHWM)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(name=f"peak-rss-{pid}", daemon=True)
        self.pid = pid
        self.parent_cmdline = Path("/proc/self/cmdline").read_bytes()
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def sample(self) -> None:
        try:
            if Path(f"/proc/{self.pid}/cmdline").read_bytes() == self.parent_cmdline:
                return
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
                    return
        except (OSError, ValueError):
            return

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.is_set():
            self.sample()
            # Often at first, so a short run still gets samples; then rarely, so polling costs nothing.
            self.done.wait(0.01 if time.monotonic() - started < 1 else self.interval)


def run_measured(argv: list[str], log_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 3600, server_cpu: Callable[[], float] | None = None) -> Measured:
    """Run ``argv`` to completion with stdout and stderr in ``log_path``; kill it past ``timeout`` seconds."""
    server_before = server_cpu() if server_cpu else 0.0
    busy_before, own_before = machine_busy_seconds(), _own_cpu_seconds()
    with log_path.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        watcher = PeakRss(process.pid)
        watcher.start()
        try:
            # WNOWAIT leaves the child a zombie: its /proc entry can still be read (VmHWM is gone by then,
            # but the last sample before exit is taken here).
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            watcher.done.set()
            watcher.join()
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            watcher.done.set()
        wall = time.monotonic() - started
    # Popen must not wait for a child already reaped.
    process.returncode = os.waitstatus_to_exitcode(status)
    server_after = server_cpu() if server_cpu else 0.0
    busy, own = machine_busy_seconds() - busy_before, _own_cpu_seconds() - own_before
    return Measured(
        argv=argv,
        returncode=process.returncode,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        sys_seconds=usage.ru_stime,
        peak_rss_bytes=watcher.peak,
        server_cpu_seconds=server_after - server_before,
        log_path=log_path,
        machine_busy_seconds=busy,
        own_cpu_seconds=own,
    )
