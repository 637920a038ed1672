#!/usr/bin/env python3
"""The container files, checked without a Docker engine.

- docker-compose.yml is valid for docker-compose (`config -q`, also with `--profile nodered`), every
  file it bind-mounts exists, the broker address the bridge and Node-RED are given is the
  Mosquitto service and the port its mounted mosquitto.conf listens on, and the bridge's mounts
  are where the image reads its configuration and keeps its persistence;
- the Dockerfile builds with the README's set-up path (scripts/install-deps.sh --build, then
  scripts/run.sh build, whose binary it copies), every file it COPYs exists and is not excluded
  by .dockerignore, and those files alone configure with run.sh's cmake options; it runs as a
  non-root user with a health check of `ykc-bridge health`;
- every YKC_… variable set in either names a key of config.yaml;
- docker-compose.cluster.yml (two bridges behind HAProxy on three NATS nodes) is valid, each bridge
  has its own client id and node with the others as failover, HAProxy's servers are the bridges,
  and the mounted nats and haproxy configurations pass `nats-server -t` and `haproxy -c`;
- with --binary: every shared library the binary loads belongs to a package of
  `install-deps.sh --runtime` (what the runtime stage installs).

    check_docker.py --source . [--binary build/bridge/ykc-bridge]
"""
import argparse
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from urllib.parse import urlparse

try:
    import yaml  # python3-yaml: a dependency of docker-compose
except ImportError:  # python3 from elsewhere than Debian's (pyenv, venv): the package's own path
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, flush=True)
    return cond


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- Dockerfile -------------------------------------------------------------------------------

def dockerfile_stages(text):
    """[(from line, [(instruction, arguments)])] with continuation lines joined."""
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append((args.strip(), []))
        else:
            if check(stages, "Dockerfile: %s before FROM" % instruction):
                stages[-1][1].append((instruction, args.strip()))
    return stages


def env_of(instructions):
    env = {}
    for ins, args in instructions:
        if ins == "ENV":
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def dockerignored(path, patterns):
    excluded = False
    for p in patterns:
        negate = p.startswith("!")
        p = p.lstrip("!").rstrip("/")
        parts = path.split("/")
        # a pattern excludes a path or any folder above it
        hit = any(fnmatch.fnmatch("/".join(parts[: i + 1]), p) or fnmatch.fnmatch("/".join(parts[: i + 1]), p.replace("**/", ""))
                  for i in range(len(parts)))
        if hit:
            excluded = not negate
    return excluded


def run_sh_build(source):
    """The cmake options and binary path of scripts/run.sh (the README's build)."""
    text = read(os.path.join(source, "scripts/run.sh"))
    configure = re.search(r"^cmake -S \. -B (\S+) (.*?)(?: >/dev/null)?$", text, re.M)
    binary = re.search(r"^bin=(\S+)$", text, re.M)
    if not check(configure and binary, "scripts/run.sh: no `cmake -S . -B DIR …` or `bin=` line"):
        sys.exit(1)
    return configure.group(1), shlex.split(configure.group(2)), binary.group(1)


def check_dockerfile(source, dockerfile, config_keys):
    stages = dockerfile_stages(dockerfile)
    if not check(len(stages) == 2, "Dockerfile: two stages (build, runtime), found %d" % len(stages)):
        sys.exit(1)
    for base, _ in stages:
        check(base.split()[0] == "debian:bookworm-slim", "Dockerfile: FROM %s, not debian:bookworm-slim" % base)
    check(re.match(r"debian:bookworm-slim\s+AS\s+build$", stages[0][0], re.I), "Dockerfile: the first stage is `AS build`")
    build, runtime = stages[0][1], stages[-1][1]
    build_runs = [a for i, a in build if i == "RUN"]
    runtime_runs = [a for i, a in runtime if i == "RUN"]
    _, _, binary = run_sh_build(source)
    check(any(r.startswith("bash scripts/install-deps.sh --build") for r in build_runs),
          "Dockerfile build stage: RUN bash scripts/install-deps.sh --build")
    check(any(r.startswith("bash scripts/run.sh build") for r in build_runs), "Dockerfile build stage: RUN bash scripts/run.sh build")
    check(any(re.match(r"bash \S*install-deps\.sh --runtime", r) for r in runtime_runs),
          "Dockerfile runtime stage: RUN bash …install-deps.sh --runtime")
    check(not any("apt-get install" in r for r in build_runs + runtime_runs),
          "Dockerfile: packages come from install-deps.sh, not an apt-get install of its own")
    workdir = next((a for i, a in build if i == "WORKDIR"), "/")
    from_build = [a.split()[1:] for i, a in runtime if i == "COPY" and a.startswith("--from=build")]
    check([os.path.normpath(os.path.join(workdir, binary)), "/usr/local/bin/ykc-bridge"] in from_build,
          "Dockerfile: the runtime copies run.sh's %s from the build stage (copies %s)" % (binary, from_build))

    # what the build context must hold, and .dockerignore must let through
    patterns = [l.strip() for l in read(os.path.join(source, ".dockerignore")).splitlines()
                if l.strip() and not l.startswith("#")]
    for _, instructions in stages:
        for ins, args in instructions:
            if ins in ("COPY", "ADD") and not args.startswith("--from"):
                for src in shlex.split(args)[:-1]:
                    src = src.rstrip("/")
                    check(os.path.exists(os.path.join(source, src)), "Dockerfile: COPY %s: no such file in the repository" % src)
                    check(not dockerignored(src, patterns), "Dockerfile: COPY %s is excluded by .dockerignore" % src)

    # the build stage's files alone configure with run.sh's options (a docker build without docker)
    with tempfile.TemporaryDirectory(prefix="ykc-docker-context-") as ctx:
        for ins, args in build:
            if ins != "COPY":
                continue
            *sources, dest = shlex.split(args)
            for src in sources:  # Docker's rules: a folder's contents go into dest, a file into dest/ or to dest
                s = os.path.join(source, src.rstrip("/"))
                if os.path.isdir(s):
                    shutil.copytree(s, os.path.join(ctx, dest), dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
                elif os.path.exists(s):
                    target = os.path.join(ctx, dest, os.path.basename(s)) if dest.endswith("/") else os.path.join(ctx, dest)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy(s, target)
        builddir, options, _ = run_sh_build(source)
        out = subprocess.run(["cmake", "-S", ctx, "-B", os.path.join(ctx, builddir)] + options,
                             capture_output=True, text=True, timeout=120)
        check(out.returncode == 0, "the files the build stage COPYs do not configure with run.sh's options:\n" + out.stdout[-2000:] + out.stderr[-2000:])

    users = [a for i, a in runtime if i == "USER"]
    check(users and users[-1].split(":")[0] not in ("root", "0"), "Dockerfile: the runtime runs as a non-root USER (%s)" % users)
    health = [a for i, a in runtime if i == "HEALTHCHECK"]
    check(health and re.search(r'CMD \["ykc-bridge", "health"\]', health[0]), "Dockerfile: HEALTHCHECK … CMD [\"ykc-bridge\", \"health\"]")
    check(('ENTRYPOINT', '["ykc-bridge"]') in runtime, "Dockerfile: ENTRYPOINT [\"ykc-bridge\"]")
    env = env_of(runtime)
    check_env_names("Dockerfile", env, config_keys)
    volumes = [a for i, a in runtime if i == "VOLUME"]
    check(volumes == [env.get("YKC_MQTT_PERSISTENCE_DIR")],
          "Dockerfile: VOLUME %s is YKC_MQTT_PERSISTENCE_DIR (%s)" % (volumes, env.get("YKC_MQTT_PERSISTENCE_DIR")))
    return env, [a for i, a in runtime if i == "EXPOSE"]


# ---- config.yaml, install-deps.sh --------------------------------------------------------------

def config_keys(config):
    keys = {}

    def walk(prefix, node):
        for k, v in node.items():
            path = prefix + [str(k)]
            if isinstance(v, dict):
                walk(path, v)
            else:  # a setting, not a section
                keys["YKC_" + "_".join(path).upper()] = v
    walk([], config)
    return keys


def check_env_names(where, env, keys):
    for name in env:
        if name.startswith("YKC_") and name != "YKC_CONFIG":
            check(name in keys, "%s: %s names no key of config.yaml" % (where, name))


def runtime_packages(source):
    text = read(os.path.join(source, "scripts/install-deps.sh"))
    m = re.search(r"^runtime=\((.*?)^\)", text, re.M | re.S)
    check(m, "scripts/install-deps.sh: no runtime=( … ) list")
    body = re.sub(r"#.*", "", m.group(1)) if m else ""
    return set(body.split())


def check_runtime_libraries(source, binary):
    wanted = runtime_packages(source)
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, "ldd %s: %s" % (binary, out.stderr))
    libs = re.findall(r"=>\s+(/\S+)", out.stdout) + re.findall(r"^\s+(/\S+ld-linux\S*)", out.stdout, re.M)
    check(len(libs) >= 5, "ldd %s: only %s" % (binary, libs))
    for lib in libs:
        candidates = {lib, os.path.realpath(lib)}
        for c in list(candidates):  # merged /usr: dpkg may know either spelling
            candidates.add(c[4:] if c.startswith("/usr/") else "/usr" + c)
        owner = None
        for c in sorted(candidates):
            q = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
            if q.returncode == 0:
                owner = q.stdout.split(":")[0].strip()
                break
        check(owner is not None, "%s (loaded by ykc-bridge) belongs to no package" % lib)
        if owner:
            check(owner in wanted, "%s belongs to %s, which `install-deps.sh --runtime` does not install" % (lib, owner))
    print("ok: %d shared libraries of ykc-bridge come from install-deps.sh --runtime" % len(libs))


# ---- docker-compose.yml -------------------------------------------------------------------------

def mosquitto_port(path):
    ports = re.findall(r"^listener\s+(\d+)", read(path), re.M)
    check(ports, "%s: no listener" % path)
    return ports[0] if ports else None


def compose_mounts(source, compose, where):
    """service -> {target: source}; each bind-mounted file exists, each named volume is declared."""
    mounts = {}
    for name, svc in compose.get("services", {}).items():
        mounts[name] = {}
        for v in svc.get("volumes", []):
            src, target = v.split(":")[:2]
            mounts[name][target] = src
            if src.startswith("."):
                check(os.path.exists(os.path.join(source, src)), "%s: %s mounts %s, which does not exist" % (where, name, src))
            else:
                check(src in (compose.get("volumes") or {}), "%s: %s uses volume %s, not declared" % (where, name, src))
    return mounts


def check_compose(source, compose_path, image_env, exposed, keys):
    compose = yaml.safe_load(read(compose_path))
    for profile in ([], ["--profile", "nodered"]):
        out = subprocess.run(["docker-compose", "-f", compose_path] + profile + ["config", "-q"],
                             capture_output=True, text=True, timeout=60, cwd=source)
        check(out.returncode == 0, "docker-compose %s config -q: %s" % (" ".join(profile), out.stdout + out.stderr))
    services = compose.get("services", {})
    check({"mosquitto", "ykc-bridge", "nodered"} <= set(services), "docker-compose.yml: services %s" % sorted(services))
    check(services.get("nodered", {}).get("profiles") == ["nodered"], "docker-compose.yml: nodered only with --profile nodered")
    check("profiles" not in services.get("ykc-bridge", {}) and "profiles" not in services.get("mosquitto", {}),
          "docker-compose.yml: the bridge and the broker run without a profile")

    mounts = compose_mounts(source, compose, "docker-compose.yml")
    conf = mounts.get("mosquitto", {}).get("/mosquitto/config/mosquitto.conf")
    check(conf and conf.startswith("./"), "docker-compose.yml: mosquitto mounts a mosquitto.conf of the repository")
    port = mosquitto_port(os.path.join(source, conf)) if conf else None

    bridge = services.get("ykc-bridge", {})
    check(bridge.get("build") == ".", "docker-compose.yml: ykc-bridge is built from the Dockerfile")
    env = bridge.get("environment", {})
    check_env_names("docker-compose.yml ykc-bridge", env, keys)
    url = urlparse(env.get("YKC_MQTT_URL", ""))
    check(url.scheme == "tcp" and url.hostname == "mosquitto" and str(url.port) == port,
          "docker-compose.yml: YKC_MQTT_URL %s is the mosquitto service on its listener port %s" % (env.get("YKC_MQTT_URL"), port))
    check(mounts["ykc-bridge"].get(image_env.get("YKC_CONFIG")) == "./config.yaml",
          "docker-compose.yml: ./config.yaml is mounted where the image's YKC_CONFIG points (%s)" % image_env.get("YKC_CONFIG"))
    data = mounts["ykc-bridge"].get(image_env.get("YKC_MQTT_PERSISTENCE_DIR"), "")
    check(data and not data.startswith("."), "docker-compose.yml: a named volume on the image's persistence folder")
    listen_port = str(keys.get("YKC_LISTEN_PORT"))
    check(exposed == [listen_port], "Dockerfile: EXPOSE %s is config.yaml's listen.port %s" % (exposed, listen_port))
    check(any(str(p).split(":")[-1] == listen_port for p in bridge.get("ports", [])),
          "docker-compose.yml: the charger port %s is published" % listen_port)

    nodered = services.get("nodered", {})
    nenv = nodered.get("environment", {})
    check(nenv.get("MQTT_HOST") == "mosquitto" and str(nenv.get("MQTT_PORT")) == port,
          "docker-compose.yml: Node-RED's MQTT_HOST/MQTT_PORT are the mosquitto service and port %s" % port)
    tested = re.search(r'^NODE_RED = "node-red@(\d+\.\d+)\.', read(os.path.join(source, "tests/node-red/test_flow.py")), re.M)
    check(tested and nodered.get("image") == "nodered/node-red:" + tested.group(1),
          "docker-compose.yml: Node-RED's image %s is the version tests/node-red tests (%s)"
          % (nodered.get("image"), tested.group(1) if tested else "?"))
    example = mounts.get("nodered", {}).get("/ykc-example", "")
    check(os.path.isfile(os.path.join(source, example, "flows.json")), "docker-compose.yml: Node-RED mounts examples/node-red with flows.json")
    entry = " ".join(nodered.get("entrypoint", []))
    check("/ykc-example/flows.json /data/%s" % nenv.get("FLOWS") in entry,
          "docker-compose.yml: Node-RED's entrypoint copies the example flow to its FLOWS file %s" % nenv.get("FLOWS"))


def check_cluster_compose(source, image_env, keys):
    """docker-compose.cluster.yml: three NATS nodes of one cluster, two bridges each on its own node
    with the others as failover, HAProxy in front of both; the mounted configurations pass
    nats-server -t and haproxy -c (where those are installed)."""
    where = "docker-compose.cluster.yml"
    path = os.path.join(source, where)
    out = subprocess.run(["docker-compose", "-f", path, "config", "-q"], capture_output=True, text=True, timeout=60, cwd=source)
    check(out.returncode == 0, "%s: docker-compose config -q: %s" % (where, out.stdout + out.stderr))
    compose = yaml.safe_load(read(path))
    services = compose.get("services", {})
    nats = sorted(n for n in services if n.startswith("nats-"))
    bridges = sorted(n for n in services if n.startswith("ykc-bridge-"))
    check(len(nats) == 3 and len(bridges) == 2 and "haproxy" in services, "%s: services %s" % (where, sorted(services)))
    mounts = compose_mounts(source, compose, where)
    # the NATS nodes: one configuration, each node named, MQTT on the port the bridges use
    mqtt_port = None
    for n in nats:
        conf = mounts[n].get("/etc/nats/cluster.conf", "")
        check(conf.startswith("./") and services[n].get("environment", {}).get("NATS_NAME") == n,
              "%s: %s mounts a cluster.conf of the repository and is named %s" % (where, n, n))
        if not conf.startswith("./"):
            continue
        text = read(os.path.join(source, conf))
        m = re.search(r"^mqtt\s*\{[^}]*listen:\s*[\d.]*:(\d+)", text, re.M)
        mqtt_port = m.group(1) if m else None
        for other in nats:
            check("nats-route://%s:" % other in text, "%s: %s has no route to %s" % (conf, n, other))
        if shutil.which("nats-server"):
            out = subprocess.run(["nats-server", "-t", "-c", os.path.join(source, conf)], capture_output=True, text=True,
                                 timeout=30, env=dict(os.environ, NATS_NAME=n))
            check(out.returncode == 0, "%s: nats-server -t: %s" % (conf, out.stdout + out.stderr))
    # the bridges: each its own client id and node, the other nodes as failover, MQTT 3.1.1
    ids = set()
    for b in bridges:
        svc = services[b]
        env = svc.get("environment", {})
        check_env_names("%s %s" % (where, b), env, keys)
        ids.add(env.get("YKC_MQTT_CLIENT_ID"))
        urls = [env.get("YKC_MQTT_URL", "")] + env.get("YKC_MQTT_FAILOVER_URLS", "").split(",")
        hosts = [urlparse(u).hostname for u in urls]
        check(sorted(hosts) == nats and all(str(urlparse(u).port) == mqtt_port for u in urls),
              "%s: %s reaches every NATS node on its MQTT port %s (%s)" % (where, b, mqtt_port, urls))
        check(str(env.get("YKC_MQTT_VERSION")) == "3.1.1", "%s: %s speaks MQTT 3.1.1 (NATS)" % (where, b))
        check(str(env.get("YKC_MQTT_COMMANDS_QOS")) == "0", "%s: %s subscribes at QoS 0 (no JetStream consumer)" % (where, b))
        check(mounts[b].get(image_env.get("YKC_CONFIG")) == "./config.yaml", "%s: %s mounts ./config.yaml" % (where, b))
        data = mounts[b].get(image_env.get("YKC_MQTT_PERSISTENCE_DIR"), "")
        check(data and not data.startswith("."), "%s: %s keeps its persistence in a named volume" % (where, b))
    check(len(ids) == len(bridges) and None not in ids, "%s: each bridge has its own mqtt.client_id (%s)" % (where, ids))
    check(len({urlparse(services[b]["environment"]["YKC_MQTT_URL"]).hostname for b in bridges}) == len(bridges),
          "%s: each bridge starts on its own node" % where)
    # HAProxy: the charger port, spread over both bridges on their listen port
    listen_port = str(keys.get("YKC_LISTEN_PORT"))
    conf = mounts.get("haproxy", {}).get("/usr/local/etc/haproxy/haproxy.cfg", "")
    check(conf.startswith("./"), "%s: haproxy mounts a haproxy.cfg of the repository" % where)
    if conf.startswith("./"):
        text = read(os.path.join(source, conf))
        check(re.search(r"^\s*mode tcp", text, re.M) and re.search(r"^\s*bind :%s$" % listen_port, text, re.M),
              "%s: TCP mode, bound to the charger port %s" % (conf, listen_port))
        servers = re.findall(r"^\s*server\s+\S+\s+(\S+):(\d+)", text, re.M)
        check(sorted(h for h, _ in servers) == bridges and all(p == listen_port for _, p in servers),
              "%s: the servers are the bridges on port %s (%s)" % (conf, listen_port, servers))
        if shutil.which("haproxy"):
            out = subprocess.run(["haproxy", "-c", "-f", os.path.join(source, conf)], capture_output=True, text=True, timeout=30)
            check(out.returncode == 0, "%s: haproxy -c: %s" % (conf, out.stdout + out.stderr))
    check(any(str(p).split(":")[-1] == listen_port for p in services.get("haproxy", {}).get("ports", [])),
          "%s: HAProxy publishes the charger port %s" % (where, listen_port))


def check_readme_override(source, readme, keys):
    """The README's docker-compose.override.yml (the secrets example) is valid on top of the file."""
    m = re.search(r"```yaml\n(\s*# docker-compose\.override\.yml\n.*?)```", readme, re.S)
    if not check(m, "README: no ```yaml block starting with # docker-compose.override.yml"):
        return
    text = textwrap.dedent(m.group(1))
    override = yaml.safe_load(text)
    for name, svc in override.get("services", {}).items():
        check_env_names("README override %s" % name, svc.get("environment", {}), keys)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="ykc-override-") as f:
        f.write(text)
        f.flush()
        out = subprocess.run(["docker-compose", "--project-directory", source, "-f", "docker-compose.yml", "-f", f.name, "config", "-q"],
                             capture_output=True, text=True, timeout=60, cwd=source)
    check(out.returncode == 0, "README's docker-compose.override.yml: docker-compose config -q: " + out.stdout + out.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--binary", help="the ykc-bridge binary whose shared libraries the runtime stage must provide")
    a = ap.parse_args()
    source = os.path.abspath(a.source)
    if not shutil.which("docker-compose"):
        print("FAIL: docker-compose is not installed: run scripts/install-deps.sh")
        return 1
    keys = config_keys(yaml.safe_load(read(os.path.join(source, "config.yaml"))))
    image_env, exposed = check_dockerfile(source, read(os.path.join(source, "Dockerfile")), keys)
    check_compose(source, os.path.join(source, "docker-compose.yml"), image_env, exposed, keys)
    check_cluster_compose(source, image_env, keys)
    readme = read(os.path.join(source, "README.md"))
    check("bash scripts/install-deps.sh && bash scripts/run.sh" in readme, "README: the set-up is still install-deps.sh then run.sh")
    check_readme_override(source, readme, keys)
    if a.binary:
        check_runtime_libraries(source, a.binary)
    print("%d failures" % len(failures) if failures else "ok: Dockerfile, .dockerignore, docker-compose.yml and docker-compose.cluster.yml")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
