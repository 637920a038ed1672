#!/usr/bin/env python3
"""Soak test with faults: no transaction record may be lost or confirmed before it is safe.

Runs --piles simulated chargers (ykc-sim) through ykc-bridge to a private Mosquitto for
--duration seconds. A driver cycles remote_start / remote_stop over every gun, so the piles
produce transaction records (0x3B), while
  - Mosquitto is stopped (SIGTERM) and restarted every --mosquitto-restart-every seconds,
  - the bridge is killed with SIGKILL and restarted (same persistence directory and client id)
    every --bridge-kill-every seconds,
  - a subscriber with a persistent session (fixed client id, clean session off, QoS 1) records
    everything published on ykc/+/+.
Then the faults stop, every charging gun is stopped, and the run drains: until every record the
piles made was confirmed (0x40) and delivered, or --drain-timeout. It prints

  generated   transaction records made by the piles (ykc-sim session_end events)
  delivered   unique serials the subscriber received; duplicates: copies beyond the first
  lost        generated, never delivered                       (must be 0)
  early       confirmed to a pile (0x40), never delivered        (must be 0)
  other types frames written by the piles per type vs unique payloads received: loss is
              expected there (frames in socket buffers or in the bridge's memory at a SIGKILL
              are gone; chargers resend only transaction records) and is reported, not judged

Exit status 0 when nothing was lost or confirmed early, 1 otherwise, 2 when the set-up failed.
Mosquitto keeps the subscriber's session and queue across its own restarts (persistence,
graceful restart, unlimited queue, QoS 0 queued too): the broker losing messages is not what
is measured. Everything lives in a temporary directory (kept with --keep or on failure); only
processes started here are stopped. Every wait is bounded.

    tests/soak/soak.py --bridge build/bridge/ykc-bridge --sim build/tools/ykc-sim            # 30 min
    tests/soak/soak.py --bridge build/bridge/ykc-bridge --sim build/tools/ykc-sim --duration 120
"""
import argparse
import collections
import ctypes
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import paho.mqtt.client as mqtt
except ImportError:  # python3 from elsewhere than Debian's (pyenv, venv): the package's own path
    sys.path.append("/usr/lib/python3/dist-packages")
    import paho.mqtt.client as mqtt

RESERVED_PORTS = {1883, 8883, 8768}


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port():
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port
    raise RuntimeError("no free port")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphan when this script is killed


def spawn(argv, logfile, stdout=None, env=None):
    out = open(logfile, "ab")
    try:
        return subprocess.Popen(argv, stdout=stdout if stdout is not None else out, stderr=out,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, env=env)
    finally:
        out.close()


def stop(proc, timeout=15, repeat=True):
    """SIGTERM (repeated: a process that has just started may not handle it yet), then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return None
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=1 if repeat else timeout)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    return proc.returncode


class Mosquitto:
    """A private broker that keeps sessions and queued messages across its own restarts."""

    def __init__(self, path, workdir):
        self.path = path
        self.dir = os.path.join(workdir, "mosquitto")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o777)  # started as root, mosquitto drops to its own user
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n"
                    "persistence true\npersistence_location %s/\nautosave_interval 60\n"
                    "max_queued_messages 0\nmax_queued_bytes 0\nqueue_qos0_messages true\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
                    "log_type information\nconnection_messages true\n" % (self.port, self.dir))
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.proc = None
        self.restarts = 0

    def start(self):
        self.proc = spawn([self.path, "-c", self.conf], self.log)
        if not wait_port(self.port, 10, self.proc):
            raise RuntimeError("mosquitto did not start (see %s)" % self.log)

    def stop(self):
        rc = stop(self.proc)
        self.proc = None
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class Bridge:
    def __init__(self, path, workdir, mqtt_port, log_level, extra):
        self.path = path
        self.dir = os.path.join(workdir, "bridge")
        os.makedirs(self.dir)
        self.port = free_port()
        self.config = os.path.join(self.dir, "config.yaml")
        with open(self.config, "w") as f:
            f.write("# soak: defaults\n")
        self.argv = [path, "run", "-c", self.config, "--listen", "127.0.0.1:%d" % self.port,
                     "--mqtt-url", "tcp://127.0.0.1:%d" % mqtt_port,
                     "--set", "mqtt.persistence_dir=" + os.path.join(self.dir, "data"),
                     "--set", "mqtt.client_id=soak-bridge-%d" % self.port, "--log-level", log_level]
        for kv in extra:
            self.argv += ["--set", kv]
        self.log = os.path.join(self.dir, "bridge.log")
        self.proc = None
        self.kills = 0
        self.unexpected_exits = 0

    def start(self):
        with open(self.log, "a") as f:
            f.write("=== soak: start at %s\n" % time.strftime("%H:%M:%S"))
        self.proc = spawn(self.argv, self.log)
        if not wait_port(self.port, 20, self.proc):
            raise RuntimeError("ykc-bridge did not start (see %s)" % self.log)

    def kill(self):
        with open(self.log, "a") as f:
            f.write("=== soak: SIGKILL at %s\n" % time.strftime("%H:%M:%S"))
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None
        self.kills += 1

    def stop(self):
        rc = stop(self.proc, timeout=20)
        self.proc = None
        return rc


class Sim:
    """ykc-sim; its events (one JSON line each) on a reader thread."""

    def __init__(self, args, bridge_port, workdir, total_seconds):
        self.log = os.path.join(workdir, "sim.log")
        self.events_file = open(os.path.join(workdir, "sim-events.jsonl"), "w")
        argv = [args.sim, "--port", str(bridge_port), "--piles", str(args.piles), "--guns", str(args.guns),
                "--pile-start", args.pile_start, "--no-stdin", "--duration", str(int(total_seconds)),
                "--transaction-retry", str(args.transaction_retry), "--reconnect-max", str(args.reconnect_max),
                "--events", "login,disconnected,session_start,session_end,transaction_confirmed,error",
                "--stats", "10"]
        self.proc = spawn(argv, self.log, stdout=subprocess.PIPE)
        self.lock = threading.Lock()
        self.generated = {}  # serial -> (pile, gun, monotonic time)
        self.serial_reused = 0
        self.confirmed = {}  # serial -> monotonic time of the first 0x40
        self.confirmed_unknown = 0
        self.charging = {}  # (pile, gun) -> serial
        self.online = set()
        self.errors = collections.Counter()
        self.stats = {}
        self.final_stats = None
        self.exited = threading.Event()
        self.listeners = []  # called with every event, under no lock
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind not in ("stats",):
                self.events_file.write(line.decode() if isinstance(line, bytes) else line)
            now = time.monotonic()
            with self.lock:
                if kind == "session_end":
                    serial = ev["serial"]
                    if serial in self.generated:
                        self.serial_reused += 1
                    self.generated[serial] = (ev["pile"], ev["gun"], now)
                    self.charging.pop((ev["pile"], ev["gun"]), None)
                elif kind == "session_start":
                    self.charging[(ev["pile"], ev["gun"])] = ev["serial"]
                elif kind == "transaction_confirmed":
                    if ev["serial"] not in self.generated:
                        self.confirmed_unknown += 1
                    self.confirmed.setdefault(ev["serial"], now)
                elif kind == "login":
                    self.online.add(ev["pile"])
                elif kind == "disconnected":
                    self.online.discard(ev["pile"])
                elif kind == "error":
                    self.errors[ev.get("error", "?")[:60]] += 1
                elif kind == "stats":
                    self.stats = ev
                    if ev.get("final"):
                        self.final_stats = ev
                elif kind == "exit":
                    self.exited.set()
            for f in self.listeners:
                f(ev, now)
        self.exited.set()

    def pending(self):
        with self.lock:
            return [s for s in self.generated if s not in self.confirmed]


class Subscriber:
    """Persistent session (fixed client id, clean session off), QoS 1, reconnects on its own."""

    def __init__(self, port, client_id):
        self.lock = threading.Lock()
        self.serials = {}  # serial -> deliveries
        self.by_type = collections.Counter()  # unique payloads per frame type
        self.dups_by_type = collections.Counter()  # identical payload again (MQTT redelivery, re-publish)
        self.seen = set()  # hashes of (topic, payload)
        self.messages = 0
        self.connects = 0
        self.health = {}  # the bridge's last ykc/bridge/health
        self.client = mqtt.Client(client_id=client_id, clean_session=False, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect_async("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            self.connects += 1
            client.subscribe("ykc/+/+", qos=1)  # every uplink frame type (and availability, error)

    def _on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        if len(parts) != 3:
            return
        if parts[1] == "bridge":
            if parts[2] == "health":
                try:
                    self.health = json.loads(msg.payload)
                except ValueError:
                    pass
            return
        typ = parts[2]
        h = hash((msg.topic, msg.payload))
        with self.lock:
            self.messages += 1
            if h in self.seen:
                self.dups_by_type[typ] += 1
            else:
                self.seen.add(h)
                self.by_type[typ] += 1
            if typ == "transaction":
                try:
                    serial = json.loads(msg.payload)["data"]["serial"]
                except (ValueError, KeyError, TypeError):
                    return
                self.serials[serial] = self.serials.get(serial, 0) + 1

    def delivered(self):
        with self.lock:
            return set(self.serials)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class Driver:
    """remote_start / remote_stop on every gun at a steady pace; the sim's events say what runs."""

    def __init__(self, args, port, sim):
        self.args = args
        self.sim = sim
        self.piles = ["%014d" % (int(args.pile_start) + i) for i in range(args.piles)]
        now = time.monotonic()
        # first start of each gun spread over one idle period
        self.next = {(p, g): now + random.uniform(2, 2 + args.idle_seconds) for p in self.piles for g in range(1, args.guns + 1)}
        self.unstarted = set(self.next)
        self.stopping = False
        self.sent = collections.Counter()
        self.responses = collections.Counter()
        self.n = 0
        self.client = mqtt.Client(client_id="soak-driver-%d" % os.getpid(), clean_session=True, protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, u, f, rc: rc == 0 and c.subscribe("ykc/+/resp/+", qos=0)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect_async("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        sim.listeners.append(self._on_event)

    def _on_message(self, client, userdata, msg):
        try:
            r = json.loads(msg.payload)
            self.responses["%s %s" % (msg.topic.rsplit("/", 1)[1], r.get("status"))] += 1
        except ValueError:
            pass

    def _on_event(self, ev, now):
        kind = ev.get("event")
        key = (ev.get("pile"), ev.get("gun"))
        if key not in self.next:  # the keys are fixed: the main thread iterates over them
            return
        if kind == "session_start":
            # the first sessions end at random times, so records flow from the start at a steady rate
            first = key in self.unstarted
            self.unstarted.discard(key)
            self.next[key] = now + self.args.session_seconds * (random.uniform(0.1, 1.0) if first else random.uniform(0.8, 1.2))
        elif kind == "session_end":
            self.next[key] = now + self.args.idle_seconds * random.uniform(0.5, 1.5)

    def command(self, pile, gun, name):
        self.n += 1
        info = self.client.publish("ykc/%s/cmd/%s" % (pile, name), json.dumps({"id": "k%d" % self.n, "gun": gun}), qos=0)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.sent[name] += 1
            return True
        return False

    def step(self, max_commands):
        """Due commands, at most max_commands of them; a command without effect is retried."""
        now = time.monotonic()
        with self.sim.lock:
            charging = dict(self.sim.charging)
            online = set(self.sim.online)
        done = 0
        for key, due in self.next.items():
            if done >= max_commands:
                break
            pile, gun = key
            if now < due or pile not in online:
                continue
            if key in charging:
                ok = self.command(pile, gun, "remote_stop")
            elif self.stopping:
                continue
            else:
                ok = self.command(pile, gun, "remote_start")
            self.next[key] = now + (self.args.command_retry if ok else 1)
            done += 1
        return done

    def stop_all(self):
        self.stopping = True
        now = time.monotonic()
        for key in self.next:
            self.next[key] = now

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bridge", default="build/bridge/ykc-bridge")
    ap.add_argument("--sim", default="build/tools/ykc-sim")
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ap.add_argument("--duration", type=float, default=1800, help="seconds with faults (default 1800)")
    ap.add_argument("--piles", type=int, default=1000)
    ap.add_argument("--guns", type=int, default=2)
    ap.add_argument("--pile-start", default="32010200000001")
    ap.add_argument("--mosquitto-restart-every", type=float, help="seconds (default: min(300, duration/3))")
    ap.add_argument("--mosquitto-down", type=float, default=5, help="seconds the broker stays down (default 5)")
    ap.add_argument("--bridge-kill-every", type=float, help="seconds (default: min(240, duration/3), first at half of it)")
    ap.add_argument("--bridge-down", type=float, default=1, help="seconds between SIGKILL and restart (default 1)")
    ap.add_argument("--session-seconds", type=float, help="charging time per session (default 60)")
    ap.add_argument("--idle-seconds", type=float, help="pause between sessions of a gun (default: half a session)")
    ap.add_argument("--command-retry", type=float, default=30, help="seconds before a command without effect is repeated")
    ap.add_argument("--commands-per-second", type=float, default=200, help="cap of the driver's command rate")
    ap.add_argument("--transaction-retry", type=float, default=15, help="ykc-sim's 0x3B repeat period (default 15)")
    ap.add_argument("--reconnect-max", type=float, default=5, help="ykc-sim's longest reconnect back-off (default 5)")
    ap.add_argument("--drain-timeout", type=float, default=240, help="bound of the final drain, seconds (default 240)")
    ap.add_argument("--progress-every", type=float, default=30)
    ap.add_argument("--bridge-log-level", default="info")
    ap.add_argument("--bridge-set", action="append", default=[], metavar="KEY=VALUE", help="passed to the bridge as --set (repeatable)")
    ap.add_argument("--workdir", help="where to keep everything (default: a new temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    d = args.duration
    args.mosquitto_restart_every = args.mosquitto_restart_every or min(300.0, d / 3)
    args.bridge_kill_every = args.bridge_kill_every or min(240.0, d / 3)
    args.session_seconds = args.session_seconds or 60.0
    args.idle_seconds = args.idle_seconds or args.session_seconds / 2
    for p in (args.bridge, args.sim, args.mosquitto):
        if not os.access(p, os.X_OK):
            print("soak: not executable: %s" % p, file=sys.stderr)
            return 2

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    if hard < args.piles * 2 + 200:
        print("soak: open-file limit %d is too low for %d piles" % (hard, args.piles), file=sys.stderr)
        return 2

    workdir = args.workdir or tempfile.mkdtemp(prefix="ykc-soak-")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)  # mosquitto (its own user) reaches its folder inside
    status = 2
    try:
        status = run(args, workdir)
    finally:
        if status == 0 and not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("logs and state kept in %s" % workdir)
    return status


def run(args, workdir):
    broker = bridge = sim = sub = driver = None
    t0 = time.monotonic()
    events = []  # (seconds since start, what)

    def note(what):
        events.append((time.monotonic() - t0, what))
        log(what)

    try:
        broker = Mosquitto(args.mosquitto, workdir)
        broker.start()
        sub = Subscriber(broker.port, "soak-subscriber-%d" % broker.port)
        deadline = time.monotonic() + 10
        while sub.connects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if sub.connects == 0:
            raise RuntimeError("the subscriber did not connect")
        time.sleep(0.5)  # its SUBACK
        bridge = Bridge(args.bridge, workdir, broker.port, args.bridge_log_level, args.bridge_set)
        bridge.start()
        total = args.duration + args.drain_timeout + 300
        sim = Sim(args, bridge.port, workdir, total)
        driver = Driver(args, broker.port, sim)
        note("started: mosquitto :%d, bridge :%d, %d piles x %d guns; faults for %.0f s: broker restart every %.0f s "
             "(down %.0f s), bridge SIGKILL every %.0f s; sessions %.0f s, pauses %.0f s; dir %s"
             % (broker.port, bridge.port, args.piles, args.guns, args.duration, args.mosquitto_restart_every,
                args.mosquitto_down, args.bridge_kill_every, args.session_seconds, args.idle_seconds, workdir))

        start = time.monotonic()
        end = start + args.duration
        next_broker = start + args.mosquitto_restart_every
        next_kill = start + args.bridge_kill_every / 2
        broker_up_at = bridge_up_at = None
        next_progress = start + args.progress_every
        tick = 0.1
        while True:
            now = time.monotonic()
            if now >= end and broker_up_at is None and bridge_up_at is None:
                break
            if now < end and broker_up_at is None and now >= next_broker:
                broker.stop()
                broker.restarts += 1
                broker_up_at = now + args.mosquitto_down
                next_broker += args.mosquitto_restart_every
                note("mosquitto stopped (restart %d)" % broker.restarts)
            if broker_up_at is not None and now >= broker_up_at:
                broker.start()
                broker_up_at = None
                note("mosquitto started")
            if now < end and bridge_up_at is None and now >= next_kill:
                bridge.kill()
                bridge_up_at = now + args.bridge_down
                next_kill += args.bridge_kill_every
                note("bridge SIGKILLed (kill %d)" % bridge.kills)
            if bridge_up_at is not None and now >= bridge_up_at:
                bridge.start()
                bridge_up_at = None
                note("bridge started")
            if bridge.proc is not None and bridge.proc.poll() is not None:
                bridge.unexpected_exits += 1
                note("bridge exited on its own with status %s: restarted" % bridge.proc.returncode)
                bridge.start()
            if sim.proc.poll() is not None:
                raise RuntimeError("ykc-sim exited early (see %s)" % sim.log)
            driver.step(max(1, int(args.commands_per_second * tick)))
            if now >= next_progress:
                next_progress += args.progress_every
                progress(sim, sub, driver)
            time.sleep(tick)

        note("faults over: stopping every session, draining (at most %.0f s)" % args.drain_timeout)
        driver.stop_all()
        drain_end = time.monotonic() + args.drain_timeout
        next_progress = time.monotonic() + args.progress_every
        drained = False
        while time.monotonic() < drain_end:
            driver.step(max(1, int(args.commands_per_second * tick)))
            with sim.lock:
                charging = len(sim.charging)
                generated = set(sim.generated)
                unconfirmed = len([s for s in generated if s not in sim.confirmed])
            undelivered = len(generated - sub.delivered())
            if charging == 0 and unconfirmed == 0 and undelivered == 0:
                drained = True
                break
            if time.monotonic() >= next_progress:
                next_progress += args.progress_every
                log("draining: %d charging, %d unconfirmed, %d undelivered" % (charging, unconfirmed, undelivered))
            if bridge.proc.poll() is not None:
                bridge.unexpected_exits += 1
                note("bridge exited on its own with status %s: restarted" % bridge.proc.returncode)
                bridge.start()
            time.sleep(tick)
        note("drained" if drained else "drain timed out")

        # the piles stop; what they wrote reaches the subscriber, then the bridge stops
        stop(sim.proc)
        sim.exited.wait(10)
        settle(sub)
        rc = bridge.stop()
        note("bridge stopped (status %s)" % rc)
        settle(sub)
        return report(args, sim, sub, driver, broker, bridge, drained, events, t0)
    except RuntimeError as e:
        log("set-up failed: %s" % e)
        return 2
    finally:
        if driver:
            driver.close()
        if sim:
            stop(sim.proc)
        if bridge:
            bridge.stop()
        if sub:
            sub.close()
        if broker:
            broker.stop()


def settle(sub, quiet=3.0, timeout=60.0):
    """Waits until the subscriber has received nothing for `quiet` seconds (bounded)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = sub.messages
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def progress(sim, sub, driver):
    with sim.lock:
        generated = set(sim.generated)
        confirmed = len(sim.confirmed)
        charging = len(sim.charging)
        online = len(sim.online)
        st = sim.stats
    delivered = sub.delivered()
    log("generated %d, confirmed %d, delivered %d, unconfirmed %d, charging %d, piles online %d, sim connected %s, "
        "messages %d, commands %s, bridge health %s"
        % (len(generated), confirmed, len(generated & delivered), len(generated) - confirmed, charging, online,
           st.get("connected"), sub.messages, dict(driver.sent),
           {k: v for k, v in sub.health.items() if k.startswith("publish") or k in ("sessions", "ts")}))


def report(args, sim, sub, driver, broker, bridge, drained, events, t0):
    with sim.lock:
        generated = dict(sim.generated)
        confirmed = dict(sim.confirmed)
        final = sim.final_stats or sim.stats
    with sub.lock:
        serials = dict(sub.serials)
        by_type = dict(sub.by_type)
        dups_by_type = dict(sub.dups_by_type)
    delivered = set(serials)
    lost = sorted(s for s in generated if s not in delivered)
    early = sorted(s for s in confirmed if s not in delivered)
    unconfirmed = sorted(s for s in generated if s not in confirmed)
    stray = sorted(s for s in delivered if s not in generated)
    duplicates = sum(serials.values()) - len(serials)
    written = final.get("written", {}) if final else {}
    lines = []
    lines.append("ykc-bridge soak: %d piles x %d guns, %.0f s with faults (%d mosquitto restarts, %d bridge SIGKILLs, "
                 "%d unexpected bridge exits), drain %s"
                 % (args.piles, args.guns, args.duration, broker.restarts, bridge.kills, bridge.unexpected_exits,
                    "complete" if drained else "TIMED OUT"))
    lines.append("transactions generated by the piles:      %d" % len(generated))
    lines.append("transactions delivered (unique serials):  %d" % len(generated.keys() & delivered))
    lines.append("duplicate deliveries:                     %d" % duplicates)
    lines.append("transactions lost:                        %d" % len(lost))
    lines.append("confirmed (0x40) but never delivered:     %d" % len(early))
    lines.append("confirmed (0x40) by the piles:            %d (unconfirmed at the end: %d)" % (len(confirmed), len(unconfirmed)))
    if stray:
        lines.append("delivered serials the piles never made:   %d" % len(stray))
    if sim.serial_reused:
        lines.append("serials made twice by the bridge:         %d" % sim.serial_reused)
    lines.append("other frame types (written by the piles / unique received / duplicates / lost):")
    other_lost = 0
    for typ in sorted(set(written) | set(by_type)):
        if typ in ("transaction", "availability", "error"):
            continue
        w, r = written.get(typ, 0), by_type.get(typ, 0)
        miss = max(0, w - r)
        other_lost += miss
        lines.append("  %-22s %8d %8d %6d %6d%s" % (typ, w, r, dups_by_type.get(typ, 0), miss, "" if w >= r else "  (+%d)" % (r - w)))
    lines.append("frames of other types lost:               %d of %d" % (other_lost, sum(v for k, v in written.items() if k != "transaction")))
    lines.append("transaction frames written (with retries): %d, received: %d" % (written.get("transaction", 0), sum(serials.values())))
    lines.append("commands sent: %s; responses: %s" % (dict(driver.sent), dict(sorted(driver.responses.items()))))
    if final:
        lines.append("ykc-sim final stats: sessions %s, confirmed %s, pending %s, connects %s, disconnects %s, errors %s, dropped %s"
                     % (final.get("sessions"), final.get("transactions_confirmed"), final.get("transactions_pending"),
                        final.get("connects"), final.get("disconnects"), final.get("errors"), final.get("dropped_frames")))
    if sim.errors:
        lines.append("ykc-sim errors: %s" % dict(sim.errors.most_common(5)))
    lines.append("subscriber: %d messages, %d connects" % (sub.messages, sub.connects))
    for s in lost[:20]:
        p, g, t = generated[s]
        lines.append("  LOST %s pile %s gun %s made at +%.1f s, confirmed: %s" % (s, p, g, t - t0, s in confirmed))
    for s in early[:20]:
        lines.append("  CONFIRMED EARLY %s confirmed at +%.1f s" % (s, confirmed[s] - t0))
    ok = not lost and not early
    lines.append("RESULT: %s" % ("PASS (0 lost, 0 confirmed early)" if ok else "FAIL"))
    text = "\n".join(lines)
    print(text, flush=True)
    with open(os.path.join(os.path.dirname(sim.log), "report.txt"), "w") as f:
        f.write(text + "\n\nevents:\n" + "\n".join("+%7.1f %s" % e for e in events) + "\n")
        for s in lost + early:
            f.write("%s generated=%s confirmed_at=%s\n" % (s, s in generated, confirmed.get(s, 0) and confirmed[s] - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
