#!/usr/bin/env python3
"""ykc-sim protocol test, without the bridge: this script plays the platform.

It listens on a free loopback port, starts ykc-sim (2 piles x 2 guns) against it, and checks
login, billing model verify/request, heartbeats per pile and gun, remote_start -> 0x33 with the
request's sequence bytes and serial, remote_stop -> 0x35 then 0x3B, 0x3B repeated until 0x40,
transactions kept across a reconnect, a hostile run (garbage, split frames, bad CRC), and wrong-pile
frames after login from piles bound to their --source-address.
Frames are made and read with the ykc-bridge CLI (`encode` / `decode`). Standard library only;
every wait is bounded.

    test_sim.py --sim build/tools/ykc-sim --bridge-cli build/bridge/ykc-bridge
"""
import argparse
import json
import queue
import socket
import subprocess
import sys
import threading
import time

PILE1 = "32010200000001"
PILE2 = "32010200000002"
SERIAL1 = PILE1 + "01" + "2405011230450001"  # 32 digits
SERIAL2 = PILE2 + "02" + "2405011230450002"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def crc16_modbus(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def write_frame(seq, typ, body):
    inner = seq + bytes([0, typ]) + body
    crc = crc16_modbus(inner)
    return bytes([0x68, len(inner)]) + inner + bytes([crc & 0xFF, crc >> 8])


def heartbeat(frame):
    """A heartbeat (0x03) read here, not by the CLI: they come every second from every gun and
    a CLI call per frame is slow under the sanitizers. The CLI reads every other frame."""
    body = frame[6:-2]
    return {"pile": body[:7].hex(), "type": "heartbeat", "code": "0x03", "seq": frame[2:4].hex().upper(),
            "data": {"gun": int(body[7:8].hex()), "gun_status": "normal" if body[8] == 0 else body[8]}}


class Cli:
    """ykc-bridge encode / decode."""

    def __init__(self, path):
        self.path = path

    def encode(self, envelope):
        out = subprocess.run([self.path, "encode"], input=json.dumps(envelope) + "\n", capture_output=True, text=True, timeout=20)
        line = out.stdout.strip()
        check(out.returncode == 0 and line and not line.startswith("{"), "encode %s: %s %s" % (envelope, line, out.stderr))
        return bytes.fromhex(line)

    def decode(self, frames):
        if not frames:
            return []
        out = subprocess.run([self.path, "decode"] + [f.hex() for f in frames], capture_output=True, text=True, timeout=20)
        lines = out.stdout.splitlines()
        check(len(lines) == len(frames), "decode: %d frames, %d lines: %s" % (len(frames), len(lines), out.stderr))
        return [json.loads(line) for line in lines]


class Conn:
    """One accepted pile connection: a reader thread splits and decodes frames, answers
    heartbeats, and queues everything it received."""

    def __init__(self, sock, cli, log):
        self.sock = sock
        self.peer = sock.getpeername()[0]
        self.cli = cli
        self.log = log
        self.frames = queue.Queue()
        self.lock = threading.Lock()
        self.pile = None
        self.closed = threading.Event()
        self.dropped = 0
        self.answer_heartbeats = True
        self.backlog = []  # received, not taken by expect() yet
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _split(self, buf):
        frames = []
        while True:
            start = buf.find(b"\x68")
            if start < 0:
                self.dropped += len(buf)
                return frames, b""
            self.dropped += start
            buf = buf[start:]
            if len(buf) < 2:
                return frames, buf
            length = buf[1]
            if length < 4:
                self.dropped += 1
                buf = buf[1:]
                continue
            if len(buf) < length + 4:
                return frames, buf
            candidate = buf[: length + 4]
            crc = crc16_modbus(candidate[2:-2])
            if candidate[-2:] in (bytes([crc & 0xFF, crc >> 8]), bytes([crc >> 8, crc & 0xFF])):
                frames.append(candidate)
                buf = buf[length + 4 :]
            else:
                self.dropped += 1
                buf = buf[1:]

    def _run(self):
        buf = b""
        try:
            while True:
                data = self.sock.recv(4096)
                if not data:
                    break
                frames, buf = self._split(buf + data)
                beats = [f for f in frames if f[5] == 0x03 and f[1] == 4 + 9]
                others = self.cli.decode([f for f in frames if not (f[5] == 0x03 and f[1] == 4 + 9)])
                for f in beats:  # heartbeat_reply 0x04: pile and gun of the heartbeat, ack 0
                    if self.answer_heartbeats:
                        with self.lock:
                            self.sock.sendall(write_frame(f[2:4], 0x04, f[6:6 + 8] + b"\x00"))
                for env in [heartbeat(f) for f in beats] + others:
                    self.log("  <- %s %s %s" % (env.get("pile"), env.get("type"), env.get("seq")))
                    env["_t"] = time.monotonic()
                    self.frames.put(env)
        except (OSError, Failure) as e:
            self.log("  reader: %s" % e)
        finally:
            self.closed.set()

    def send(self, envelope):
        data = self.cli.encode(envelope)
        with self.lock:
            self.sock.sendall(data)
        self.log("  -> %s %s %s" % (envelope.get("pile"), envelope.get("type"), envelope.get("seq")))

    def _next(self, timeout):
        try:
            env = self.frames.get(timeout=timeout)
        except queue.Empty:
            return None
        self.backlog.append(env)
        return env

    def expect(self, what, pred, timeout=10.0):
        """The first frame, in arrival order, matching pred that no earlier expect() took."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while True:
            for i in range(scanned, len(self.backlog)):
                if pred(self.backlog[i]):
                    return self.backlog.pop(i)
            scanned = len(self.backlog)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("timed out waiting for %s on pile %s" % (what, self.pile))
            if self._next(min(left, 0.5)) is None and self.closed.is_set() and self.frames.empty():
                raise Failure("connection closed waiting for %s on pile %s" % (what, self.pile))

    def count_after(self, pred, since, seconds):
        """How many frames matching pred arrive after `since` (monotonic), waiting `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._next(0.2)
        return sum(1 for e in self.backlog if e["_t"] > since and pred(e))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)


class Sim:
    """The ykc-sim process: commands on stdin, JSON events from stdout."""

    def __init__(self, path, port, extra, log):
        args = [path, "--host", "127.0.0.1", "--port", str(port)] + extra
        log("starting " + " ".join(args))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        self.all_events = []
        self.bad_lines = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            self.all_events.append(ev)
            self.events.put(ev)

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_event(self, what, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("ykc-sim: timed out waiting for event %s" % what)
            try:
                ev = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise Failure("ykc-sim exited (%s) waiting for event %s" % (self.proc.returncode, what))
                continue
            if pred(ev):
                return ev

    def quit(self, timeout=15.0):
        try:
            self.command("quit")
        except OSError:
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise Failure("ykc-sim did not exit after quit")
        self.thread.join(timeout=5)
        stderr = self.proc.stderr.read()
        check(rc == 0, "ykc-sim exit status %s: %s" % (rc, stderr))
        check(not self.bad_lines, "ykc-sim printed lines that are not JSON: %r" % self.bad_lines[:3])
        return stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def accept(server, cli, log, n, timeout=10.0):
    conns = []
    deadline = time.monotonic() + timeout
    while len(conns) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("only %d of %d piles connected" % (len(conns), n))
        server.settimeout(left)
        try:
            sock, _ = server.accept()
        except socket.timeout:
            continue
        check(sock.getpeername()[0].startswith("127."), "not a loopback peer")
        conns.append(Conn(sock, cli, log))
    return conns


def login(conn, result="success"):
    env = conn.expect("login", lambda e: e["type"] == "login")
    conn.pile = env["pile"]
    d = env["data"]
    check(env["code"] == "0x01", "login code")
    check(d["gun_count"] == 2, "gun_count %r" % d)
    check(d["pile_type"] == "dc" and d["network"] == "lan", "pile type / network %r" % d)
    check(str(d["protocol_version"]) in ("1.6",), "protocol_version %r" % d)
    check(d["program_version"] == "SIM1.0", "program_version %r" % d)
    conn.send({"type": "login_reply", "pile": conn.pile, "seq": env["seq"], "data": {"result": result}})
    return env


def billing(conn, model_id="0000"):
    env = conn.expect("billing_model_verify 0x05", lambda e: e["type"] == "billing_model_verify")
    check(env["pile"] == conn.pile and env["code"] == "0x05", "0x05 pile")
    check(env["data"]["model_id"] == model_id, "model_id %r, want %s" % (env["data"], model_id))
    if model_id == "0000":
        conn.send({"type": "billing_model_verify_reply", "pile": conn.pile, "seq": env["seq"],
                   "data": {"model_id": "0000", "result": "mismatch"}})
        req = conn.expect("billing_model_request 0x09", lambda e: e["type"] == "billing_model_request")
        check(req["pile"] == conn.pile, "0x09 pile")
        conn.send({"type": "billing_model", "pile": conn.pile, "seq": req["seq"], "data": {
            "model_id": "0101",
            "sharp_energy_price": 1.2, "sharp_service_price": 0.8,
            "peak_energy_price": 1.0, "peak_service_price": 0.8,
            "flat_energy_price": 0.7, "flat_service_price": 0.8,
            "valley_energy_price": 0.3, "valley_service_price": 0.8,
            "loss_ratio": 0, "periods": ["flat"] * 48}})
    else:
        conn.send({"type": "billing_model_verify_reply", "pile": conn.pile, "seq": env["seq"],
                   "data": {"model_id": model_id, "result": "match"}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--bridge-cli", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    log = (lambda s: print(s, flush=True)) if args.verbose else (lambda s: None)
    cli = Cli(args.bridge_cli)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]

    sims, conns = [], []
    try:
        # ---- 2 piles x 2 guns ------------------------------------------------------------------
        sim = Sim(args.sim, port, ["--piles", "2", "--guns", "2", "--pile-start", PILE1, "--heartbeat", "1",
                                   "--transaction-retry", "1", "--realtime-charging", "2", "--reconnect-min", "0.2",
                                   "--reconnect-max", "1", "--seed", "7"], log)
        sims.append(sim)
        conns = accept(server, cli, log, 2)
        for c in conns:
            login(c)
        check(sorted(c.pile for c in conns) == [PILE1, PILE2], "piles %r" % [c.pile for c in conns])
        conns.sort(key=lambda c: c.pile)
        c1, c2 = conns
        for pile in (PILE1, PILE2):
            sim.wait_event("login " + pile, lambda e, p=pile: e.get("event") == "login" and e["pile"] == p and e["result"] == "success")
        for c in conns:
            billing(c)
        # the first real-time data of each gun: idle
        for c in conns:
            for gun in (1, 2):
                rt = c.expect("realtime gun %d" % gun, lambda e, g=gun: e["type"] == "realtime" and e["data"]["gun"] == g)
                check(rt["pile"] == c.pile and rt["data"]["status"] == "idle", "idle realtime %r" % rt)
        # heartbeats with the right pile and gun, every second
        for c in conns:
            for gun in (1, 2):
                hb = c.expect("heartbeat gun %d" % gun, lambda e, g=gun: e["type"] == "heartbeat" and e["data"]["gun"] == g)
                check(hb["pile"] == c.pile and hb["code"] == "0x03", "heartbeat pile %r on %s" % (hb, c.pile))
        log("login, billing model, realtime, heartbeats: ok")

        # ---- remote start: 0x33 echoes the seq bytes and the serial -----------------------------
        c1.send({"type": "remote_start", "pile": PILE1, "seq": "A55A",
                 "data": {"serial": SERIAL1, "gun": 1, "logical_card": "1234", "card": "00000000D14B0A54", "balance": 100}})
        r = c1.expect("remote_start_reply 0x33", lambda e: e["type"] == "remote_start_reply")
        check(r["seq"] == "A55A", "0x33 seq %s, want A55A" % r["seq"])
        check(r["data"]["serial"] == SERIAL1 and r["data"]["gun"] == 1, "0x33 serial/gun %r" % r)
        check(r["data"]["result"] == "success", "0x33 result %r" % r)
        rt = c1.expect("realtime charging", lambda e: e["type"] == "realtime" and e["data"]["gun"] == 1)
        check(rt["data"]["status"] == "charging" and rt["data"]["serial"] == SERIAL1, "charging realtime %r" % rt)
        sim.wait_event("session_start", lambda e: e.get("event") == "session_start" and e["serial"] == SERIAL1)
        # a second start on the busy gun fails with gun_busy
        c1.send({"type": "remote_start", "pile": PILE1, "seq": "0102",
                 "data": {"serial": SERIAL1[:-1] + "9", "gun": 1, "balance": 100}})
        r = c1.expect("second 0x33", lambda e: e["type"] == "remote_start_reply")
        check(r["seq"] == "0102" and r["data"]["result"] == "failure" and r["data"]["failure_reason"] == "gun_busy", "busy %r" % r)
        # energy rises
        time.sleep(2.5)
        c1.send({"type": "read_realtime", "pile": PILE1, "seq": "0B00", "data": {"gun": 1}})
        rt = c1.expect("realtime on request", lambda e: e["type"] == "realtime" and e["seq"] == "0B00")
        check(rt["data"]["status"] == "charging" and float(rt["data"]["energy"]) > 0, "energy rising %r" % rt)
        log("remote start: ok")

        # ---- remote stop: 0x35, then 0x3B, repeated until 0x40 ----------------------------------
        c1.send({"type": "remote_stop", "pile": PILE1, "seq": "0C0D", "data": {"gun": 1}})
        r = c1.expect("remote_stop_reply 0x35", lambda e: e["type"] in ("remote_stop_reply", "transaction"))
        check(r["type"] == "remote_stop_reply", "0x35 must come before 0x3B, got %s" % r["type"])
        check(r["seq"] == "0C0D" and r["data"]["result"] == "success" and r["data"]["gun"] == 1, "0x35 %r" % r)
        tx = c1.expect("transaction 0x3B", lambda e: e["type"] == "transaction")
        d = tx["data"]
        check(d["serial"] == SERIAL1 and d["gun"] == 1 and tx["pile"] == PILE1, "0x3B %r" % tx)
        check(d["stop_reason"] == "app_stop" and d["trade_type"] == "app", "0x3B reason/trade %r" % d)
        check(float(d["total_energy"]) > 0 and float(d["total_amount"]) > 0, "0x3B energy/amount %r" % d)
        check(d["card"] == "00000000D14B0A54", "0x3B card %r" % d)
        repeats = []
        for i in range(2):
            again = c1.expect("0x3B repeat %d" % (i + 1), lambda e: e["type"] == "transaction", timeout=5)
            check(again["data"] == d, "the repeated 0x3B differs: %r" % again)
            repeats.append(again)
        c1.send({"type": "transaction_reply", "seq": repeats[-1]["seq"], "data": {"serial": SERIAL1, "result": "success"}})
        sim.wait_event("transaction_confirmed", lambda e: e.get("event") == "transaction_confirmed" and e["serial"] == SERIAL1)
        confirmed = time.monotonic() + 0.3  # a copy may have been on its way
        n = c1.count_after(lambda e: e["type"] == "transaction", confirmed, 2.5)
        check(n == 0, "0x3B still repeated after 0x40 (%d)" % n)
        # stopping an idle gun fails with not_charging
        c1.send({"type": "remote_stop", "pile": PILE1, "seq": "0E00", "data": {"gun": 1}})
        r = c1.expect("0x35 idle", lambda e: e["type"] == "remote_stop_reply")
        check(r["data"]["result"] == "failure" and r["data"]["failure_reason"] == "not_charging", "idle stop %r" % r)
        log("remote stop, transaction retries until 0x40: ok")

        # ---- card swipe and local stop; the record survives a reconnect -------------------------
        sim.command("swipe %s 2 D14B0A54" % PILE2)
        auth = c2.expect("card_auth 0x31", lambda e: e["type"] == "card_auth")
        check(auth["data"]["gun"] == 2 and auth["data"]["card"] == "00000000D14B0A54" and auth["data"]["start_mode"] == "card", "0x31 %r" % auth)
        c2.send({"type": "card_auth_reply", "pile": PILE2, "seq": auth["seq"], "data": {
            "serial": SERIAL2, "gun": 2, "logical_card": "1000", "balance": 50, "result": "success", "failure_reason": "none"}})
        sim.wait_event("session_start card", lambda e: e.get("event") == "session_start" and e["serial"] == SERIAL2)
        time.sleep(1.2)
        sim.command("stop %s 2" % PILE2)
        tx = c2.expect("0x3B after local stop", lambda e: e["type"] == "transaction")
        check(tx["data"]["serial"] == SERIAL2 and tx["data"]["trade_type"] == "card", "card 0x3B %r" % tx)
        # drop the connection without confirming: the pile reconnects, logs in, re-sends the record
        c2.close()
        c2 = accept(server, cli, log, 1)[0]
        conns[1] = c2
        login(c2)
        billing(c2, model_id="0101")
        tx = c2.expect("0x3B after reconnect", lambda e: e["type"] == "transaction")
        check(tx["data"]["serial"] == SERIAL2, "re-sent 0x3B %r" % tx)
        c2.send({"type": "transaction_reply", "seq": tx["seq"], "data": {"serial": SERIAL2, "result": "success"}})
        sim.wait_event("transaction_confirmed 2", lambda e: e.get("event") == "transaction_confirmed" and e["serial"] == SERIAL2)
        log("card swipe, local stop, record kept across reconnect: ok")

        # ---- other commands get their replies with the request's seq ----------------------------
        c1.send({"type": "time_sync", "pile": PILE1, "seq": "2211", "data": {"time": "2024-05-01T08:30:00+08:00"}})
        r = c1.expect("time_sync_reply", lambda e: e["type"] == "time_sync_reply")
        check(r["seq"] == "2211" and r["data"]["time"] == "2024-05-01T08:30:00+08:00", "0x55 %r" % r)
        c1.send({"type": "card_query", "pile": PILE1, "seq": "3300", "data": {"cards": ["00000000D14B0A54"]}})
        r = c1.expect("card_query_reply", lambda e: e["type"] == "card_query_reply")
        check(r["seq"] == "3300" and r["data"]["cards"][0]["card"] == "00000000D14B0A54", "0x47 %r" % r)
        c1.send({"type": "reboot", "pile": PILE1, "seq": "4400", "data": {"mode": "when_idle"}})
        r = c1.expect("reboot_reply", lambda e: e["type"] == "reboot_reply")
        check(r["seq"] == "4400" and r["data"]["result"] == "success", "0x91 %r" % r)
        log("other commands: ok")

        for ev in ("connected",):
            check(sum(1 for e in sim.all_events if e.get("event") == ev) >= 2, "events %s" % ev)
        check(any(e.get("event") == "rx" and e["frame"]["type"] == "remote_start" for e in sim.all_events), "rx events")
        sim.quit()
        for c in conns:
            c.close()
        conns = []

        # ---- hostile: garbage, split frames, bad CRC; the login still gets through -------------
        sim = Sim(args.sim, port, ["--piles", "1", "--guns", "2", "--pile-start", PILE1, "--heartbeat", "1",
                                   "--hostile", "garbage,split", "--hostile", "bad-crc", "--hostile-rate", "1",
                                   "--split-pause", "1", "--seed", "3"], log)
        sims.append(sim)
        c = accept(server, cli, log, 1)[0]
        conns = [c]
        login(c)
        billing(c, model_id="0000")
        c.expect("heartbeat (hostile)", lambda e: e["type"] == "heartbeat")
        check(c.dropped > 0, "hostile mode sent no garbage / bad CRC")
        sim.quit()
        c.close()
        log("hostile: ok")

        # ---- hostile wrong-pile, and --source-address round robin over the piles --------------
        sim = Sim(args.sim, port, ["--piles", "2", "--guns", "2", "--pile-start", PILE1, "--heartbeat", "1",
                                   "--hostile", "wrong-pile", "--hostile-rate", "1", "--seed", "4",
                                   "--source-address", "127.0.0.7-127.0.0.8"], log)
        sims.append(sim)
        conns = accept(server, cli, log, 2)
        check(sorted(x.peer for x in conns) == ["127.0.0.7", "127.0.0.8"], "source addresses %r" % [x.peer for x in conns])
        for x in conns:
            env = x.expect("login", lambda e: e["type"] == "login")  # the login itself speaks for its own pile
            x.pile = env["pile"]
            x.send({"type": "login_reply", "pile": x.pile, "seq": env["seq"], "data": {"result": "success"}})
        check(sorted(x.pile for x in conns) == [PILE1, PILE2], "piles %r" % [x.pile for x in conns])
        for x in conns:
            own = x.pile
            other = x.expect("a frame for another pile after login", lambda e: e.get("pile") not in (None, own))
            check(other["pile"] != own, "wrong-pile %r" % other)
            x.expect("a heartbeat of its own pile", lambda e: e["type"] == "heartbeat" and e["pile"] == own)
        sim.quit()
        log("hostile wrong-pile, source addresses: ok")
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        for s in sims:
            s.kill()
            tail = s.all_events[-15:]
            print("last ykc-sim events:\n  " + "\n  ".join(json.dumps(t) for t in tail), file=sys.stderr)
        return 1
    finally:
        for s in sims:
            s.kill()
        for c in conns:
            c.close()
        server.close()
    print("sim_protocol: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
