#!/usr/bin/env python3
"""The README's walkthrough, run the way a newcomer types it.

`make dev` starts on ports and a state folder of its own; the code blocks the README marks with
`<!-- walkthrough: NAME -->` run in bash with the exports `make dev` printed, exactly as written.
Between them this script checks what the README promises: the backup verified, the preview holds
the 1000 rows, the overwrite and its printed undo put back what they say, a point-in-time
restore point brings back the rows from before a dropped table, the dashboard's browser suite
(`dashboard/tests`, Playwright in Debian's chromium, signed in through the link `make dev`
printed) passes, and the fuzzer (`tests/fuzz.py`) finds nothing in the API. Then the stack is
stopped as Ctrl-C would (SIGINT to its process group), started again at once, takes a backup,
and is stopped again, leaving no process behind.

Run by `make test` before anything else builds: a command the README uses that `make dev` does
not build fails here.
"""

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORTS = ("CAPYDB_API_URL", "CAPYDB_API_KEY", "CAPYDB_PROJECT", "PATH")
SCREENSHOTS = os.path.join(ROOT, "target", "dashboard-screenshots")


def fail(message):
    print(f"walkthrough: FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def readme_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    found = dict(re.findall(r"<!-- walkthrough: ([a-z-]+) -->\n```sh\n(.*?)```", text, re.S))
    for name in ("data", "backup", "restore", "schedule", "pitr"):
        if name not in found:
            fail(f"README.md has no block marked <!-- walkthrough: {name} -->")
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """One `make dev`, in a process group of its own (Ctrl-C signals the whole group)."""

    def __init__(self, state, ports):
        self.state = state
        self.ports = ports
        self.env = dict(
            os.environ,
            CAPYDB_STATE_DIR=state,
            CAPYDB_LISTEN=f"127.0.0.1:{ports['api']}",
            CAPYDB_MOTO_PORT=str(ports["moto"]),
            CAPYDB_PG1_PORT=str(ports["pg1"]),
            CAPYDB_PG2_PORT=str(ports["pg2"]),
        )
        self.proc = None
        self.log = open(os.path.join(state, "make-dev.log"), "a", encoding="utf-8")

    def start(self, timeout=900):
        """Starts `make dev` and returns its export lines once it printed them."""
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["make", "dev"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines = queue.Queue()

        def drain():
            for line in self.proc.stdout:
                self.log.write(line)
                self.log.flush()
                if "stopped in" in line or "still running or stopping" in line:
                    print(f"walkthrough: make dev {line.strip()}", flush=True)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        exports, built_at = {}, None
        self.sign_in_url = None
        while len(exports) < len(EXPORTS) or self.sign_in_url is None:
            try:
                line = lines.get(timeout=max(1, timeout - (time.monotonic() - started)))
            except queue.Empty:
                fail(f"make dev printed no exports within {timeout} s; see {self.log.name}")
            if line is None:
                fail(f"make dev exited ({self.proc.wait()}) before printing its exports; see {self.log.name}")
            if "starting the local stack" in line:
                built_at = time.monotonic()
            m = re.match(r"export (\w+)=(.*)$", line.strip())
            if m and m.group(1) in EXPORTS:
                exports[m.group(1)] = line.strip()
            m = re.match(r"Sign in as the demo org's admin \(\d+ h\): (http://\S+#session=\S+)$", line.strip())
            if m:
                self.sign_in_url = m.group(1)
            if "no sign-in link" in line:
                fail("make dev printed no dashboard sign-in link")
        ready = time.monotonic()
        return "\n".join(exports[k] for k in EXPORTS), started, built_at or started, ready

    def interrupt(self):
        """Ctrl-C: SIGINT to the whole process group. Returns a function that waits for the stop
        and says how long it took, so a new start can race it."""
        proc, began = self.proc, time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)

        def stopped():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                fail("make dev did not stop within 120 s of Ctrl-C")
            return time.monotonic() - began

        return stopped

    def kill_leftovers(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        for region in ("local-1", "local-2"):
            subprocess.run(
                [os.path.join(ROOT, "infra/cluster.sh"), "stop", os.path.join(self.state, "clusters", region)],
                capture_output=True,
            )


def run(exports, block, name):
    """Runs a README block in bash, as pasted into a shell that has the exports."""
    script = f"{exports}\n{block}"
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    print(f"--- walkthrough: {name} (exit {out.returncode})\n{out.stdout}{out.stderr}", flush=True)
    if out.returncode != 0:
        fail(f"the README's `{name}` block exited {out.returncode}")
    return out.stdout + out.stderr


def orders(exports):
    out = run(exports, 'psql "$(capydb connection-string)" -Atc "select count(*) from orders"', "count orders")
    return int(out.strip().splitlines()[-1])


def leftovers(state, ports):
    busy = [f"{name} port {port}" for name, port in ports.items() if port_open(port)]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    procs = [line.strip() for line in ps.splitlines() if state in line and "walkthrough.py" not in line]
    return busy + procs


def main():
    blocks = readme_blocks()
    state = tempfile.mkdtemp(prefix="capydb-walkthrough-")
    os.chmod(state, 0o755)  # the clusters run as `postgres`, which must enter it
    ports = {"api": free_port(), "moto": free_port(), "pg1": free_port(), "pg2": free_port()}
    stack = Stack(state, ports)
    try:
        exports, started, built, ready = stack.start()
        print(f"walkthrough: make dev printed its exports {ready - built:.1f} s after its build step")
        run(exports, blocks["data"], "data")
        out = run(exports, blocks["backup"], "backup")
        if "completed and verified" not in out:
            fail("the backup did not say `completed and verified`")
        first_backup = time.monotonic() - built

        out = run(exports, blocks["restore"], "restore")
        if not re.search(r"^\s*1000\s*$", out, re.M):
            fail("the preview did not hold the 1000 rows the README promises")
        if orders(exports) != 1000:
            fail("production does not hold the backup's 1000 rows after the overwrite")
        undo = re.search(r"To undo:\s*\n\s*(capydb restore .*)$", out, re.M)
        if not undo:
            fail("the overwrite printed no undo command")
        run(exports, undo.group(1), "the printed undo")
        if orders(exports) != 10:
            fail("the undo did not bring back the 10 rows production held before the overwrite")

        out = run(exports, blocks["schedule"], "schedule")
        if "daily at 03:05" not in out:
            fail("the schedule was not set to 03:05")

        # Ctrl-C and `make dev` again at once, while the first one is still stopping.
        # Point in time: the restore point was placed while production held the 10 rows.
        out = run(exports, blocks["pitr"], "pitr")
        if not re.search(r"^\s*10\s*$", out, re.M):
            fail("the preview restored to the restore point does not hold the 10 rows from before the drop")
        if not re.search(r"Restored \S+ \(point in time\) into preview database just-now", out):
            fail("the restore to the current moment did not say which moment it restored")

        env = dict(os.environ)
        for line in exports.splitlines():
            m = re.match(r'export (CAPYDB_API_URL|CAPYDB_API_KEY)=(.*)$', line)
            if m:
                env[m.group(1)] = m.group(2)

        # The dashboard in Debian's Chromium (Playwright), signed in through the printed link.
        if not stack.sign_in_url.startswith(env["CAPYDB_API_URL"] + "/#session="):
            fail(f"the sign-in link {stack.sign_in_url} is not on the API's origin {env['CAPYDB_API_URL']}")
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)
        browser = subprocess.run(
            ["npm", "run", "--silent", "e2e"],
            cwd=os.path.join(ROOT, "dashboard"),
            env=dict(env, CAPYDB_STATE_DIR=state, CAPYDB_SIGN_IN_URL=stack.sign_in_url, CAPYDB_SCREENSHOTS=SCREENSHOTS),
            timeout=1200,
        )
        if browser.returncode != 0:
            fail(f"the dashboard's browser suite failed (exit {browser.returncode}); see its report above")
        print(f"walkthrough: dashboard screenshots in {SCREENSHOTS}", flush=True)

        # The API against its own document, on this same stack (`tests/fuzz.py`).
        fuzz = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fuzz.py")], cwd=ROOT, env=env, timeout=900)
        if fuzz.returncode != 0:
            fail(f"the fuzzer found failures (exit {fuzz.returncode}); see its report above")

        first_stopped = stack.interrupt()
        exports_again, restarted, _, ready = stack.start()
        first_stop = first_stopped()
        if exports_again != exports:
            fail("the exports changed across a restart")
        out = run(exports, blocks["backup"], "backup after a restart")
        if "completed and verified" not in out:
            fail("the backup after a restart did not verify")
        second_stop = stack.interrupt()()
        time.sleep(1)
        left = leftovers(state, ports)
        if left:
            fail(f"still running after the stop: {left}")
        print(
            f"walkthrough: ok — make dev to the first verified backup {first_backup:.1f} s after the build "
            f"({time.monotonic() - started:.0f} s in all); stops took {first_stop:.1f} s and {second_stop:.1f} s; "
            f"a restart started at once printed its exports {ready - restarted:.1f} s later"
        )
    finally:
        stack.kill_leftovers()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
