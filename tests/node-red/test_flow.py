#!/usr/bin/env python3
"""examples/node-red/flows.json in a real Node-RED, against the real bridge and ykc-sim.

Installs node-red (pinned) from the npm registry into --cache once (later runs and other build
trees reuse it; exit 77, a ctest skip, when npm or the registry is unreachable), starts a private
Mosquitto, ykc-bridge and ykc-sim (one pile) on free loopback ports, and Node-RED headless on a
free loopback port with a temporary userDir holding a copy of the flow, its MQTT_HOST / MQTT_PORT /
YKC_PILE pointing at them. The copy adds one thing: what the flow's display nodes and its
command node output is appended to a file (a function and a file node, both core). Through the
admin API (POST /inject/<id>) it presses the flow's remote start, remote stop and reboot, and
checks what the flow saw: the retained gun state, the commands it published (topic from YKC_PILE,
gun, id), each resp with status ok and the charger's reply, the gun charging, the transaction
record of exactly the session the charger ran, which the charger then got confirmed.
Every wait is bounded; every process is stopped at the end.

    test_flow.py --bridge build/bridge/ykc-bridge --sim build/tools/ykc-sim --cache ~/.cache/ykc-bridge/node-red
"""
import argparse
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from soak import Bridge, Mosquitto, free_port, spawn, stop, wait_port  # noqa: E402  (shared process helpers)

NODE_RED = "node-red@4.1.15"  # 4.x runs on Debian's Node.js 18 and the machine's 20; 5.x needs 22
SKIP = 77
PILE = "32010200000001"
FLOW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "node-red", "flows.json")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def log(msg):
    print("[node-red %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def registry_reachable():
    try:
        return subprocess.run(["npm", "ping", "--fetch-retries=0", "--fetch-timeout=15000"], capture_output=True,
                              text=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def install(cache):
    """node-red in cache/<version>/node_modules, installed once (under a lock, atomically)."""
    home = os.path.join(cache, NODE_RED.replace("@", "-"))
    red = os.path.join(home, "node_modules", "node-red", "red.js")
    if os.path.exists(red):
        return red
    if not shutil.which("npm") or not shutil.which("node"):
        log("SKIP: npm / node not installed")
        sys.exit(SKIP)
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(red):
            return red
        if not registry_reachable():
            log("SKIP: the npm registry is unreachable (npm ping)")
            sys.exit(SKIP)
        tmp = tempfile.mkdtemp(prefix=".install-", dir=cache)
        log("installing %s into %s (once)" % (NODE_RED, home))
        t0 = time.monotonic()
        try:
            out = subprocess.run(["npm", "install", "--prefix", tmp, "--no-audit", "--no-fund", "--omit=dev",
                                  "--no-package-lock", NODE_RED], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            out = None
        if out is None or out.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise Failure("npm install %s failed: %s" % (NODE_RED, out.stderr[-3000:] if out else "timeout"))
        os.rename(tmp, home)
        log("installed in %.0f s" % (time.monotonic() - t0))
    return red


def test_flow(flow, record):
    """The example flow plus a recorder: every output of its display and command nodes, one
    {"topic","payload"} line each in `record`."""
    with open(flow, encoding="utf-8") as f:
        nodes = json.load(f)
    ids = {n["id"]: n for n in nodes}
    for needed in ("ykc_fn_gun_state", "ykc_fn_transaction", "ykc_fn_resp", "ykc_fn_availability", "ykc_fn_command",
                   "ykc_inject_remote_start", "ykc_inject_remote_stop", "ykc_inject_reboot", "ykc_broker"):
        check(needed in ids, "flows.json has no node %s" % needed)
    allowed = {"tab", "comment", "mqtt-broker", "mqtt in", "mqtt out", "inject", "debug", "function", "change", "json"}
    check({n["type"] for n in nodes} <= allowed, "flows.json uses nodes beyond the core ones: %s" % ({n["type"] for n in nodes} - allowed))
    for src in ("ykc_fn_gun_state", "ykc_fn_transaction", "ykc_fn_resp", "ykc_fn_availability", "ykc_fn_command"):
        ids[src]["wires"][0].append("test_record")
    nodes.append({"id": "test_record", "type": "function", "z": "ykc_tab", "name": "test: record",
                  "func": "msg.payload = JSON.stringify({topic: msg.topic, payload: msg.payload});\nreturn msg;",
                  "outputs": 1, "wires": [["test_file"]]})
    nodes.append({"id": "test_file", "type": "file", "z": "ykc_tab", "name": "test: file", "filename": record,
                  "filenameType": "str", "appendNewline": True, "createDir": True, "overwriteFile": "false",
                  "encoding": "utf8", "wires": [[]]})
    return nodes


class Recording:
    """The lines the flow's recorder appended."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def wait(self, what, pred, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.lines():
                if pred(r["topic"], r["payload"]):
                    return r["payload"]
            time.sleep(0.1)
        raise Failure("the flow did not see %s within %d s; it saw:\n%s"
                      % (what, timeout, "\n".join(json.dumps(r) for r in self.lines()[-20:])))


class Sim:
    """ykc-sim with one pile; its events on a queue."""

    def __init__(self, path, port, workdir):
        self.events = queue.Queue()
        self.seen = []
        self.proc = spawn([path, "--port", str(port), "--piles", "1", "--guns", "2", "--pile-start", PILE, "--no-stdin",
                           "--duration", "120", "--realtime-charging", "1", "--power", "60",
                           "--events", "login,session_start,session_end,transaction_confirmed,error", "--stats", "0"],
                          os.path.join(workdir, "sim.log"), stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                pass

    def wait(self, kind, pred=lambda e: True, timeout=20):
        for e in self.seen:
            if e.get("event") == kind and pred(e):
                return e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(e)
            if e.get("event") == kind and pred(e):
                return e
        raise Failure("ykc-sim: no %s event within %d s (saw %s)" % (kind, timeout, self.seen[-10:]))


def post_inject(port, node):
    req = urllib.request.Request("http://127.0.0.1:%d/inject/%s" % (port, node), data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        check(r.status == 200, "POST /inject/%s: HTTP %d" % (node, r.status))


def wait_http(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(proc.poll() is None, "node-red exited with %s" % proc.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/flows" % port, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise Failure("node-red's admin API did not answer within %d s" % timeout)


def run(args, work):
    red = install(args.cache)
    broker = Mosquitto(shutil.which("mosquitto") or "/usr/sbin/mosquitto", work)
    bridge = Bridge(args.bridge, work, broker.port, "info", [])
    procs = []
    try:
        broker.start()
        bridge.start()
        sim = Sim(args.sim, bridge.port, work)
        procs.append(sim.proc)
        sim.wait("login", timeout=30)

        user_dir = os.path.join(work, "node-red")
        os.makedirs(user_dir)
        record = Recording(os.path.join(work, "seen.jsonl"))
        with open(os.path.join(user_dir, "flows.json"), "w") as f:
            json.dump(test_flow(args.flow, record.path), f)
        ui_port = free_port()
        with open(os.path.join(user_dir, "settings.js"), "w") as f:
            f.write("module.exports = %s;\n" % json.dumps({
                "uiHost": "127.0.0.1", "uiPort": ui_port, "flowFile": "flows.json", "credentialSecret": False,
                "logging": {"console": {"level": "info", "metrics": False, "audit": False}},
                "telemetry": {"enabled": False, "updateNotification": False},
                "diagnostics": {"enabled": False}, "externalModules": {"autoInstall": False},
                "editorTheme": {"tours": False, "projects": {"enabled": False}}}))
        env = dict(os.environ, MQTT_HOST="127.0.0.1", MQTT_PORT=str(broker.port), YKC_PILE=PILE, YKC_GUN="1")
        nr = spawn(["node", red, "--userDir", user_dir, "--settings", os.path.join(user_dir, "settings.js")],
                   os.path.join(work, "node-red.log"), env=env)
        procs.append(nr)
        t0 = time.monotonic()
        wait_http(ui_port, nr, 60)
        log("node-red up in %.1f s" % (time.monotonic() - t0))

        # subscribed through ${MQTT_HOST}:${MQTT_PORT}: the retained states of the pile arrive
        idle = record.wait("gun 1 idle", lambda t, p: t == "ykc/%s/gun/1/state" % PILE and p["status"] == "idle"
                           and p["pile"] == PILE and p["gun"] == 1, timeout=30)
        check("summary" in idle and "idle" in idle["summary"], "gun state summary: %s" % idle)
        record.wait("the pile online", lambda t, p: t == "ykc/%s/availability" % PILE and p["state"] == "online")

        post_inject(ui_port, "ykc_inject_remote_start")
        cmd = record.wait("its remote_start command", lambda t, p: t == "ykc/%s/cmd/remote_start" % PILE)
        check(cmd["gun"] == 1 and cmd["id"].startswith("nodered-remote_start-"), "remote_start command: %s" % cmd)
        resp = record.wait("resp/remote_start", lambda t, p: t == "ykc/%s/resp/remote_start" % PILE and p["id"] == cmd["id"])
        check(resp["status"] == "ok" and resp["command"] == "remote_start" and resp["reply"]["data"]["result"] == "success",
              "resp/remote_start: %s" % resp)
        started = sim.wait("session_start", lambda e: e["gun"] == 1)
        check(resp["reply"]["data"]["serial"] == started["serial"], "remote_start reply %s, session %s" % (resp, started))
        record.wait("gun 1 charging", lambda t, p: t == "ykc/%s/gun/1/state" % PILE and p["status"] == "charging")

        post_inject(ui_port, "ykc_inject_remote_stop")
        stop_cmd = record.wait("its remote_stop command", lambda t, p: t == "ykc/%s/cmd/remote_stop" % PILE)
        check(stop_cmd["gun"] == 1 and stop_cmd["id"] != cmd["id"], "remote_stop command: %s" % stop_cmd)
        stop_resp = record.wait("resp/remote_stop", lambda t, p: t == "ykc/%s/resp/remote_stop" % PILE and p["id"] == stop_cmd["id"])
        check(stop_resp["status"] == "ok" and stop_resp["reply"]["data"]["result"] == "success", "resp/remote_stop: %s" % stop_resp)
        ended = sim.wait("session_end", lambda e: e["serial"] == started["serial"])
        check(ended["reason"] == "app_stop", "session_end: %s" % ended)
        tx = record.wait("the transaction", lambda t, p: t == "ykc/%s/transaction" % PILE and p["serial"] == started["serial"])
        check(tx["pile"] == PILE and tx["gun"] == 1 and tx["stop_reason"] == "app_stop" and tx["trade_type"] == "app",
              "transaction: %s" % tx)
        check(tx["total_energy"] == ended["energy"] and tx["total_amount"] == ended["amount"],
              "transaction %s, the charger's session %s" % (tx, ended))
        check(PILE in tx["summary"] and "app_stop" in tx["summary"], "transaction summary: %s" % tx)
        check(tx["check"] == "ok" and tx["reasons"] == [] and "NOT CONFIRMED" not in tx["summary"], "transaction check: %s" % tx)
        sim.wait("transaction_confirmed", lambda e: e["serial"] == started["serial"])
        record.wait("gun 1 idle again", lambda t, p: t == "ykc/%s/gun/1/state" % PILE and p["status"] == "idle"
                    and p["ts"] > idle["ts"])

        post_inject(ui_port, "ykc_inject_reboot")
        reboot = record.wait("resp/reboot", lambda t, p: t == "ykc/%s/resp/reboot" % PILE)
        check(reboot["status"] == "ok" and reboot["id"].startswith("nodered-reboot-") and reboot["reply"]["data"]["result"] == "success",
              "resp/reboot: %s" % reboot)
        check(not [e for e in sim.seen if e.get("event") == "error"], "ykc-sim errors: %s" % sim.seen)
    finally:
        for p in reversed(procs):
            stop(p, timeout=10)
        if bridge.proc is not None:
            bridge.stop()
        if broker.running():
            broker.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--cache", required=True, help="where node-red is installed once, outside the source tree")
    ap.add_argument("--flow", default=FLOW, help="the flow under test (default examples/node-red/flows.json)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, the flow's recording)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ykc-node-red-")
    os.chmod(work, 0o755)  # mosquitto (its own user) reaches its folder inside
    t0 = time.monotonic()
    try:
        run(args, work)
        log("ok in %.1f s" % (time.monotonic() - t0))
        return 0
    except (Failure, RuntimeError, OSError, KeyError, TypeError) as e:
        log("FAIL: %s: %s (logs in %s)" % (type(e).__name__, e, work))
        args.keep = True
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
