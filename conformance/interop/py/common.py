"""What the Python peer scripts share: checks that collect failures, a log of what the peer
saw on the wire, and the running of our `ocpp` binary as a child process."""

import asyncio
import itertools
import json
import os
import signal
import sys
import time


class Checks:
    """Named checks of one run. A failed check is reported with what the peer saw; the run
    goes on so that one report lists every failure."""

    def __init__(self, run):
        self.run = run
        self.passed = 0
        self.failed = []
        self.deviations = []

    def check(self, name, ok, saw):
        if ok:
            self.passed += 1
            print(f"[{self.run}] ok   {name}", flush=True)
        else:
            self.failed.append((name, saw))
            print(f"[{self.run}] FAIL {name}: the peer saw {saw}", flush=True)

    def deviation(self, name, peer_does, spec_says):
        """The peer's behaviour differs from the spec; tolerated, and listed."""
        self.deviations.append((name, peer_does, spec_says))
        print(
            f"[{self.run}] peer deviation tolerated: {name}: "
            f"peer {peer_does}; spec {spec_says}",
            flush=True,
        )

    def finish(self):
        print(
            f"[{self.run}] {self.passed} checks passed, {len(self.failed)} failed, "
            f"{len(self.deviations)} peer deviations tolerated",
            flush=True,
        )
        for name, saw in self.failed:
            print(f"[{self.run}] failed: {name}: the peer saw {saw}", flush=True)
        return 1 if self.failed else 0


class Wire:
    """Every OCPP-J frame the peer sent and received, in order, kept in memory for the
    checks and appended to a JSONL file (the run's record)."""

    def __init__(self, path):
        self.frames = []
        self.changed = asyncio.Condition()
        self.file = open(path, "w", encoding="utf-8")

    async def record(self, direction, text):
        try:
            frame = json.loads(text)
        except (ValueError, TypeError):
            frame = None
        entry = {"t": time.time(), "dir": direction, "raw": text, "frame": frame}
        self.file.write(json.dumps({"dir": direction, "raw": text}) + "\n")
        self.file.flush()
        async with self.changed:
            self.frames.append(entry)
            self.changed.notify_all()

    def mark(self):
        return len(self.frames)

    async def wait_for(self, predicate, since=0, timeout=15.0):
        """The first frame from `since` on that satisfies `predicate`, or None at timeout."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with self.changed:
            while True:
                for entry in self.frames[since:]:
                    if predicate(entry):
                        return entry
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(self.changed.wait(), left)
                except asyncio.TimeoutError:
                    return None

    async def wait_call(self, action, since=0, timeout=15.0, where=None, direction="in"):
        """A CALL of `action` received from our side (or, with direction "out", sent by the
        peer)."""

        def match(entry):
            frame = entry["frame"]
            return (
                entry["dir"] == direction
                and isinstance(frame, list)
                and len(frame) == 4
                and frame[0] == 2
                and frame[2] == action
                and (where is None or where(frame[3]))
            )

        entry = await self.wait_for(match, since, timeout)
        return None if entry is None else entry["frame"][3]

    async def wait_answer(self, message_id, since=0, timeout=10.0):
        """Our side's CALLRESULT or CALLERROR for `message_id`."""

        def match(entry):
            frame = entry["frame"]
            return (
                entry["dir"] == "in"
                and isinstance(frame, list)
                and len(frame) >= 3
                and frame[0] in (3, 4)
                and frame[1] == message_id
            )

        entry = await self.wait_for(match, since, timeout)
        return None if entry is None else entry["frame"]

    def calls(self, action, direction="in"):
        return [
            e["frame"][3]
            for e in self.frames
            if e["dir"] == direction
            and isinstance(e["frame"], list)
            and len(e["frame"]) == 4
            and e["frame"][0] == 2
            and e["frame"][2] == action
        ]


class RecordingConnection:
    """Wraps a websockets connection so that the `ocpp` package's ChargePoint goes through
    the wire log in both directions."""

    def __init__(self, connection, wire):
        self.connection = connection
        self.wire = wire

    async def recv(self):
        text = await self.connection.recv()
        await self.wire.record("in", text)
        return text

    async def send(self, text):
        await self.wire.record("out", text)
        await self.connection.send(text)


_traces = itertools.count(1)


def traced(args):
    """`args` with `--trace` added for `cp` (a file) and `csms` (a directory) when run.sh
    asks for traces (INTEROP_TRACES): every start of ours gets its own name."""
    folder = os.environ.get("INTEROP_TRACES")
    if not folder or not args or args[0] not in ("cp", "csms"):
        return args
    base = os.path.join(folder, f"{os.environ.get('INTEROP_SCENARIO', 'py')}-{next(_traces)}")
    return (*args, "--trace", base + ".jsonl" if args[0] == "cp" else base)


async def spawn_ours(binary, *args, log_path):
    """Starts our `ocpp` binary with `args`; its stdout and stderr go to `log_path`."""
    args = traced(args)
    log = open(log_path, "w", encoding="utf-8")
    return await asyncio.create_subprocess_exec(
        binary, *args, stdout=log, stderr=asyncio.subprocess.STDOUT
    )


async def stop_ours(process, timeout=10.0):
    """SIGTERM, then the exit status (SIGKILL after `timeout`)."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return None


def die(message):
    print(message, file=sys.stderr, flush=True)
    sys.exit(2)


def env_path(name):
    value = os.environ.get(name)
    if not value:
        die(f"{name} is not set (run conformance/interop/run.sh)")
    return value


PROBES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "probes.json")


async def probe_peer(checks, url, peer, out_path):
    """Sends the bad frames of probes.json to the peer's central system as a raw client and
    compares each answer with the spec: a match is a passed check, a difference a tolerated
    deviation. What the peer did is written to `out_path` (JSON)."""
    import websockets

    with open(PROBES, encoding="utf-8") as f:
        probes = json.load(f)["probes"]
    results = []
    async with websockets.connect(f"{url}/PROBE", subprotocols=["ocpp1.6"]) as ws:
        for probe in probes:
            await ws.send(probe["frame"])
            try:
                text = await asyncio.wait_for(ws.recv(), 2 if probe["spec"] is None else 5)
            except asyncio.TimeoutError:
                text = None
            got = answer_code(text)
            results.append({"id": probe["id"], "answer": text, "code": got})
            expected = probe["spec"]
            if got == expected:
                checks.check(f"{peer} answers {probe['case']} with {expected or 'nothing'}", True, text)
            else:
                checks.deviation(
                    f"{peer}: {probe['case']}",
                    short_answer(text),
                    f"{expected or 'no answer'} ({probe['why']})",
                )
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"peer": peer, "results": results}, f, indent=1)


def short_answer(text):
    """What the peer did, in a few words: "answers CallError X (id Y)" or "does not answer"."""
    if text is None:
        return "does not answer"
    try:
        frame = json.loads(text)
        if frame[0] == 4:
            return f"answers CallError {frame[2]} (id {frame[1]})"
    except (ValueError, LookupError, TypeError):
        pass
    return f"answers {text[:80]}"


def answer_code(text):
    """The CallError code of an answer frame, "CALLRESULT", or None for no answer."""
    if text is None:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return f"unparsable answer {text!r}"
    if isinstance(frame, list) and frame and frame[0] == 4 and len(frame) > 2:
        return frame[2]
    if isinstance(frame, list) and frame and frame[0] == 3:
        return "CALLRESULT"
    return f"unexpected frame {text}"
