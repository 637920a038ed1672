#!/usr/bin/env python3
"""Scale-out test: two bridges behind HAProxy on a three-node NATS cluster; one bridge, then one
broker node, is killed with SIGKILL while --piles simulated chargers charge.

The shape (README "Running several bridges", docker-compose.yml's cluster profile), all on
loopback, each process on its own free ports:

    ykc-sim (--piles) --> HAProxy (TCP mode, round robin, health checks)
                            |-> bridge A  --> NATS node 1 (failover: node 3)
                            '-> bridge B  --> NATS node 2 (failover: node 3, node 1)
    NATS nodes 1-3: one cluster, clustered JetStream (the MQTT sessions, QoS 1 messages and
    retained messages replicated on three nodes), an MQTT listener on each.
    The measuring subscriber and the command driver use node 3 (never killed).

Phases:
  1. every pile online (its retained availability), load: remote_start / remote_stop on every
     gun, so transaction records flow (ykc-sim retries each until confirmed);
  2. bridge A: SIGKILL. Measured: the time until every pile is online again through bridge B;
  3. NATS node 2 (bridge B's): SIGKILL. Measured: the time until bridge B is connected again
     (to another node) and until a record made after the kill is delivered;
  4. every session is stopped, and the run drains until every record was confirmed and delivered.
Checked at the end (exit status 1 when one fails):
  - every pile's last availability is "online" through bridge B;
  - no transaction record lost, none confirmed (0x40) to a pile before the subscriber had it;
  - no command answered twice, and every command published after bridge A's will was seen
    answered exactly once. Counted, not judged: a command bridge A had taken when it died (no
    one can answer it), and one published while bridge B had no broker (the bridges use clean
    sessions: a command is not kept for a bridge that is away).
When the surviving NATS nodes log that their JetStream stopped answering after the node's death
(NATS 2.9.10 on a loaded machine: bench/RESULTS.md) and the drain cannot end, only what the
bridge answers for is judged (nothing confirmed early, no command answered twice) and the exit
status is 77 (skipped). Prints the figures (bench/RESULTS.md "Scale-out"). Every wait is bounded; everything runs in a
temporary directory (kept with --keep or on failure); only processes started here are stopped.

    tests/soak/cluster.py --bridge build/bridge/ykc-bridge --sim build/tools/ykc-sim
"""
import argparse
import collections
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak import Driver, Sim, Subscriber, free_port, log, mqtt, spawn, stop, wait_port  # noqa: E402


class NatsNode:
    """One node of the cluster: client, route and MQTT ports on loopback, JetStream on disk."""

    def __init__(self, workdir, name, routes):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port, self.mqtt_port = free_port(), free_port()
        self.route_port = routes[name]
        self.conf = os.path.join(self.dir, "nats.conf")
        with open(self.conf, "w") as f:
            f.write("server_name: %s\nlisten: 127.0.0.1:%d\n" % (name, self.port))
            f.write("jetstream { store_dir: \"%s/js\" }\n" % self.dir)
            f.write("cluster {\n  name: ykc\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n"
                    % (self.route_port, ", ".join("nats-route://127.0.0.1:%d" % p for n, p in routes.items() if n != name)))
            # docker/nats/cluster.conf: the same MQTT settings (why: there)
            f.write("mqtt {\n  listen: 127.0.0.1:%d\n  stream_replicas: 3\n}\n" % self.mqtt_port)
        self.log = os.path.join(self.dir, "nats.log")
        self.proc = None

    def start(self):
        self.proc = spawn(["nats-server", "-c", self.conf], self.log)

    def url(self):
        return "tcp://127.0.0.1:%d" % self.mqtt_port


class HaProxy:
    def __init__(self, workdir, backends, connections):
        self.port = free_port()
        self.conf = os.path.join(workdir, "haproxy.cfg")
        with open(self.conf, "w") as f:
            f.write("global\n  maxconn %d\n\n" % connections)  # two descriptors each
            f.write("defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10m\n  timeout server 10m\n"
                    "  retries 3\n  option redispatch\n\n"
                    "frontend chargers\n  bind 127.0.0.1:%d\n  default_backend bridges\n\n"
                    "backend bridges\n  balance roundrobin\n" % self.port)
            for name, port in backends:
                f.write("  server %s 127.0.0.1:%d check inter 500ms fall 1 rise 2\n" % (name, port))
        self.log = os.path.join(workdir, "haproxy.log")
        self.proc = None

    def start(self):
        self.proc = spawn(["haproxy", "-f", self.conf, "-db"], self.log)
        if not wait_port(self.port, 10, self.proc):
            raise RuntimeError("haproxy did not start (see %s)" % self.log)


class Bridge:
    def __init__(self, path, workdir, name, urls, extra):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.client_id = "cluster-%s-%d" % (name, self.port)
        config = os.path.join(self.dir, "config.yaml")
        with open(config, "w") as f:
            f.write("# cluster: defaults\n")
        self.argv = [path, "run", "-c", config, "--listen", "127.0.0.1:%d" % self.port, "--mqtt-url", urls[0],
                     "--set", "mqtt.failover_urls=" + ",".join(urls[1:]), "--set", "mqtt.version=3.1.1", "--set", "mqtt.commands_qos=0",
                     "--set", "mqtt.inflight_window=256",
                     "--set", "mqtt.reconnect_max=2", "--set", "mqtt.persistence_dir=" + os.path.join(self.dir, "data"),
                     "--set", "mqtt.client_id=" + self.client_id, "--log-level", "info"]
        for kv in extra:
            self.argv += ["--set", kv]
        self.log = os.path.join(self.dir, "bridge.log")
        self.proc = None

    def start(self):
        self.proc = spawn(self.argv, self.log)
        if not wait_port(self.port, 20, self.proc):
            raise RuntimeError("ykc-bridge %s did not start (see %s)" % (self.name, self.log))

    def log_count(self, text):
        with open(self.log, errors="replace") as f:
            return f.read().count(text)


class Watcher(Subscriber):
    """The soak's subscriber, plus each pile's last availability and every answer by command id."""

    def __init__(self, port, client_id):
        self.availability = {}  # pile -> (state, bridge)
        self.answers = collections.Counter()  # command id -> answers
        self.bridge_state = []  # (monotonic time, payload)
        self.last_transaction = 0.0  # monotonic time of the last record received
        super().__init__(port, client_id)

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            self.connects += 1
            # QoS 0, as the bridges' commands (README): on a NATS cluster each QoS 1 subscription is a
            # JetStream consumer, which cannot be made while a node is down. Node 3 is never killed.
            client.subscribe([("ykc/+/+", 0), ("ykc/+/resp/+", 0), ("ykc/bridge/state", 0)])

    def _on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        now = time.monotonic()
        try:
            j = json.loads(msg.payload)
        except ValueError:
            j = {}
        if msg.topic == "ykc/bridge/state":
            with self.lock:
                self.bridge_state.append((now, j))
            return
        if len(parts) == 4 and parts[2] == "resp":
            with self.lock:
                self.answers[str(j.get("id"))] += 1
            return
        if len(parts) == 3 and parts[2] == "availability":
            with self.lock:
                self.availability[parts[1]] = (j.get("state"), j.get("bridge"))
        if len(parts) == 3 and parts[2] == "transaction":
            self.last_transaction = now
        super()._on_message(client, userdata, msg)

    def online_through(self, piles, bridge):
        with self.lock:
            return sum(1 for p in piles if self.availability.get(p) == ("online", bridge))

    def online(self, piles):
        with self.lock:
            return sum(1 for p in piles if self.availability.get(p, (None,))[0] == "online")

    def will_seen(self, client_id):
        with self.lock:
            for t, j in self.bridge_state:
                if j.get("state") == "offline" and j.get("bridge") == client_id:
                    return t
        return None


class CountingDriver(Driver):
    """The soak's driver, remembering when each command id was published; probe() also asks piles
    for real-time data whatever their state (a pile that is moving included)."""

    def __init__(self, args, port, sim):
        self.published = {}  # id -> monotonic time
        super().__init__(args, port, sim)

    def command(self, pile, gun, name):
        ok = super().command(pile, gun, name)
        if ok:
            self.published["k%d" % self.n] = time.monotonic()
        return ok

    def probe(self, piles, n):
        for _ in range(n):
            self.n += 1
            pile = random.choice(piles)
            info = self.client.publish("ykc/%s/cmd/read_realtime" % pile, json.dumps({"id": "k%d" % self.n, "gun": 1}), qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self.sent["read_realtime"] += 1
                self.published["k%d" % self.n] = time.monotonic()


def wait_until(what, condition, timeout, step=0.1, during=None):
    """Polls `condition` until true or `timeout`; returns the seconds it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        if during:
            during()
        time.sleep(step)
    log("timed out after %.0f s: %s" % (timeout, what))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bridge", default="build/bridge/ykc-bridge")
    ap.add_argument("--sim", default="build/tools/ykc-sim")
    ap.add_argument("--piles", type=int, default=1000)
    ap.add_argument("--guns", type=int, default=1)
    ap.add_argument("--pile-start", default="32010200000001")
    ap.add_argument("--load-seconds", type=float, default=20, help="load before each kill (default 20)")
    ap.add_argument("--session-seconds", type=float, default=20)
    ap.add_argument("--idle-seconds", type=float, default=10)
    ap.add_argument("--command-retry", type=float, default=30)
    ap.add_argument("--commands-per-second", type=float, default=100, help="remote_start / remote_stop cap")
    ap.add_argument("--probes-per-second", type=float, default=50, help="read_realtime to bridge A's piles, moving or not")
    ap.add_argument("--transaction-retry", type=float, default=10)
    ap.add_argument("--reconnect-max", type=float, default=5)
    ap.add_argument("--move-timeout", type=float, default=90, help="bound of each recovery, seconds")
    ap.add_argument("--drain-timeout", type=float, default=120)
    ap.add_argument("--bridge-set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    for tool in ("nats-server", "haproxy"):
        if not shutil.which(tool):
            print("cluster: %s is not installed (scripts/install-deps.sh installs it): skipped" % tool)
            return 77
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.piles * 2 + 1200:  # HAProxy: two descriptors per charger
        print("cluster: open-file limit %d is too low for %d piles" % (hard, args.piles), file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="ykc-cluster-")
    status = 2
    try:
        status = run(args, workdir)
    finally:
        if status == 0 and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("logs kept in %s" % workdir)
    return status


def run(args, workdir):
    nodes, bridges, haproxy, sim, watcher, driver = [], [], None, None, None, None
    figures, failures = [], []
    outage = [float("inf"), float("inf")]  # bridge B without a broker: NATS node 2 killed .. B connected again
    a_killed = [float("inf")]
    t0 = time.monotonic()
    piles = ["%014d" % (int(args.pile_start) + i) for i in range(args.piles)]
    try:
        routes = {"n%d" % i: free_port() for i in (1, 2, 3)}
        nodes = [NatsNode(workdir, name, routes) for name in routes]
        for n in nodes:
            n.start()
        for n in nodes:
            if not wait_port(n.mqtt_port, 60, n.proc):
                raise RuntimeError("nats-server %s did not open its MQTT port (see %s)" % (n.name, n.log))
        figures.append(("NATS cluster up (3 nodes, MQTT ports open)", time.monotonic() - t0))
        n1, n2, n3 = nodes
        watcher = Watcher(n3.mqtt_port, "cluster-watcher-%d" % n3.mqtt_port)
        if wait_until("the subscriber connects", lambda: watcher.connects > 0, 60) is None:
            raise RuntimeError("the subscriber could not connect to node 3 (see %s)" % n3.log)
        time.sleep(1)  # its SUBACK
        a = Bridge(args.bridge, workdir, "a", [n1.url(), n3.url()], args.bridge_set)
        b = Bridge(args.bridge, workdir, "b", [n2.url(), n3.url(), n1.url()], args.bridge_set)
        bridges = [a, b]
        for br in bridges:
            br.start()
        haproxy = HaProxy(workdir, [(br.name, br.port) for br in bridges], args.piles + 500)
        haproxy.start()
        sim = Sim(args, haproxy.port, workdir, 3600)
        driver = CountingDriver(args, n3.mqtt_port, sim)
        probed = []  # the piles probe() asks: bridge A's, from before it is killed

        def step():
            driver.step(max(1, int(args.commands_per_second * 0.1)))
            if probed:
                driver.probe(probed, max(1, int(args.probes_per_second * 0.1)))

        took = wait_until("every pile online", lambda: watcher.online(piles) == len(piles), args.move_timeout, during=step)
        if took is None:
            raise RuntimeError("only %d of %d piles came online" % (watcher.online(piles), len(piles)))
        figures.append(("%d piles online through HAProxy" % len(piles), took))
        settled = time.monotonic()
        on_a = watcher.online_through(piles, a.client_id)
        with watcher.lock:
            probed.extend(p for p in piles if watcher.availability.get(p) == ("online", a.client_id))
        log("online: %d through bridge a, %d through bridge b; load for %.0f s" % (on_a, len(piles) - on_a, args.load_seconds))
        wait_until("load", lambda: False, args.load_seconds, during=step)

        # ---- bridge A dies ----------------------------------------------------------------------
        killed = a_killed[0] = time.monotonic()
        a.proc.kill()
        a.proc.wait(timeout=10)
        log("bridge a: SIGKILL (%d piles on it)" % on_a)
        took = wait_until("bridge a's will", lambda: watcher.will_seen(a.client_id) is not None, 30, during=step)
        will_at = watcher.will_seen(a.client_id) or time.monotonic()
        if took is not None:
            figures.append(("bridge A killed -> its will on ykc/bridge/state", will_at - killed))
        took = wait_until("every pile online through bridge b",
                          lambda: watcher.online_through(piles, b.client_id) == len(piles), args.move_timeout, during=step)
        if took is None:
            failures.append("after bridge A died only %d of %d piles came online through bridge B"
                            % (watcher.online_through(piles, b.client_id), len(piles)))
        else:
            figures.append(("bridge A killed -> all %d piles online through bridge B (%d moved)" % (len(piles), on_a),
                            time.monotonic() - killed))
        wait_until("load", lambda: False, args.load_seconds, during=step)

        # ---- NATS node 2 (bridge B's broker) dies -----------------------------------------------
        before_node_kill = len(failures)  # judged even when the broker stalls afterwards
        connected_before = b.log_count("mqtt: connected to")
        survivors = {n.log: os.path.getsize(n.log) for n in (n1, n3)}  # what they log from now on
        killed = outage[0] = time.monotonic()
        n2.proc.kill()
        n2.proc.wait(timeout=10)
        log("nats node 2: SIGKILL")
        took = wait_until("bridge b reconnects", lambda: b.log_count("mqtt: connected to") > connected_before, args.move_timeout,
                          during=step)
        outage[0] -= 0.5  # a command on its way to bridge B through node 2
        outage[1] = time.monotonic() + 1  # and its subscriptions in place
        if took is None:
            failures.append("bridge B did not reconnect after its broker node died")
        else:
            figures.append(("NATS node 2 killed -> bridge B connected to another node", took))
            took = wait_until("a record after the node died", lambda: watcher.last_transaction > killed, args.move_timeout, during=step)
            if took is not None:
                figures.append(("NATS node 2 killed -> first transaction record delivered", watcher.last_transaction - killed))
        wait_until("load", lambda: False, args.load_seconds, during=step)

        # ---- drain ------------------------------------------------------------------------------
        driver.stop_all()

        def drained():
            with sim.lock:
                generated = set(sim.generated)
                unconfirmed = [s for s in generated if s not in sim.confirmed]
                charging = len(sim.charging)
            return charging == 0 and not unconfirmed and not (generated - watcher.delivered())

        stalled = None
        if wait_until("drain", drained, args.drain_timeout, during=step) is None:
            stalled = jetstream_stalled(survivors)
            failures.append("the drain timed out: records still unconfirmed or undelivered")
        wait_until("late answers", lambda: False, 3)
        return report(args, piles, sim, watcher, driver, b, settled, a_killed[0], will_at, outage, figures, failures, workdir,
                      stalled, before_node_kill)
    except RuntimeError as e:
        log("set-up failed: %s" % e)
        return 2
    finally:
        if sim:
            stop(sim.proc)
        if haproxy:
            stop(haproxy.proc)
        for br in bridges:
            stop(br.proc)
        # the MQTT clients without joining their threads (daemon threads): against a node whose
        # JetStream stalled, paho's loop_stop() waited for good
        for client in (driver, watcher):
            if client:
                client.client.disconnect()
        for n in nodes:
            stop(n.proc)


def jetstream_stalled(survivors):
    """What the surviving nodes logged since the node's death when their JetStream stopped
    answering (NATS 2.9.10 on a loaded machine, see bench/RESULTS.md), or None."""
    signs = ("JetStream system temporarily unavailable", "timeout for request type", "no metadata leader")
    for path, size in survivors.items():
        with open(path, errors="replace") as f:
            f.seek(size)
            for line in f:
                if any(sign in line for sign in signs):
                    return line.strip()
    return None


def report(args, piles, sim, watcher, driver, b, settled, a_killed, will_at, outage, figures, failures, workdir, stalled=None,
           before_node_kill=0):
    with sim.lock:
        generated = dict(sim.generated)
        confirmed = dict(sim.confirmed)
    delivered = watcher.delivered()
    lost = [s for s in generated if s not in delivered]
    early = [s for s in confirmed if s not in delivered]
    with watcher.lock:
        answers = dict(watcher.answers)
        wrong = [p for p in piles if watcher.availability.get(p) != ("online", b.client_id)]
    twice = [k for k, n in answers.items() if n > 1]
    # while the bridges start together and the piles log in, a bridge learns another's logins
    # only as fast as that one's messages come: reported, not judged
    twice_at_start = [k for k in twice if driver.published.get(k, 0) < settled]
    # one that bridge A answered as it died, and bridge B once it had read A's will: B cannot know
    twice_at_kill = [k for k in twice if a_killed - 1 <= driver.published.get(k, 0) <= will_at + 1]
    twice = [k for k in twice if k not in twice_at_start and k not in twice_at_kill]
    unanswered = [k for k in driver.published if k not in answers]
    # a command published while bridge B had no broker is not kept for it (clean session)
    in_outage = [k for k in unanswered if outage[0] <= driver.published[k] <= outage[1]]
    unanswered_after_will = [k for k in unanswered if driver.published[k] > will_at and k not in in_outage]
    lines = ["ykc-bridge scale-out: %d piles x %d guns, 2 bridges behind HAProxy, 3-node NATS cluster" % (args.piles, args.guns)]
    for what, seconds in figures:
        lines.append("  %-72s %6.1f s" % (what, seconds))
    lines.append("transaction records: %d made, %d delivered, %d lost, %d confirmed before delivery"
                 % (len(generated), len(generated.keys() & delivered), len(lost), len(early)))
    lines.append("commands: %d published, %d answered once, %d answered twice (and %d while the piles first logged in, "
                 "%d as bridge A died), "
                 "%d unanswered: %d taken by bridge A when it "
                 "died, %d published while bridge B had no broker (not kept: clean session), %d others"
                 % (len(driver.published), sum(1 for n in answers.values() if n == 1), len(twice), len(twice_at_start), len(twice_at_kill), len(unanswered),
                    len(unanswered) - len(in_outage) - len(unanswered_after_will), len(in_outage), len(unanswered_after_will)))
    lines.append("answers: %s" % dict(sorted(driver.responses.items())))
    lines.append("availability at the end: %d of %d online through bridge B" % (len(piles) - len(wrong), len(piles)))
    if lost:
        failures.append("%d transaction record(s) lost, e.g. %s" % (len(lost), lost[:3]))
    if early:
        failures.append("%d record(s) confirmed before the subscriber had them, e.g. %s" % (len(early), early[:3]))
    if twice:
        failures.append("%d command(s) answered twice, e.g. %s" % (len(twice), twice[:3]))
    if unanswered_after_will:
        failures.append("%d command(s) published after bridge A's will and outside bridge B's outage never answered, e.g. %s"
                        % (len(unanswered_after_will), unanswered_after_will[:3]))
    if wrong:
        failures.append("%d pile(s) not online through bridge B at the end, e.g. %s" % (len(wrong), wrong[:3]))
    status = 0 if not failures else 1
    if stalled and not early and not twice and before_node_kill == 0:
        # the broker stopped acknowledging: what the bridge answers for held (nothing confirmed
        # before the broker had it, no command answered twice, every pile back through bridge B
        # after bridge A died); what failed after the node's death is the broker's
        lines.append("NATS's JetStream stalled after the node's death: %s" % stalled)
        lines.append("not judged: %s" % "; ".join(failures))
        failures, status = [], 77
    elif stalled:
        lines.append("NATS's JetStream stalled after the node's death (%s), but what failed before it, or what the "
                     "bridge answers for, is judged" % stalled)
    for f in failures:
        lines.append("FAIL: " + f)
    lines.append("RESULT: %s" % {0: "PASS", 1: "FAIL", 77: "SKIPPED (the broker stalled; nothing confirmed early)"}[status])
    text = "\n".join(lines)
    print(text, flush=True)
    with open(os.path.join(workdir, "report.txt"), "w") as f:
        f.write(text + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
