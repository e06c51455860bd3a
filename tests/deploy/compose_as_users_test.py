#!/usr/bin/python3
"""deploy/docker-compose.yml run as far as this machine allows (no container engine):
each service's command as the uid:gid the compose file gives it, with the volumes, the
secret and the files at the paths, owners and modes the compose file and its init step
produce, in a private mount and network namespace (overlays on /etc, /usr/local and
/var/lib, a tmpfs on /run) so that nothing outside the test changes. Checks the health
checks, a REST write reaching a platform (the simulator), and that a restart of trustd
does not drop edged's platform session."""
import json, os, shutil, signal, subprocess, sys, tempfile, urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from namespaced_test import fail, reexec_in_namespaces, wait  # noqa: E402

os.environ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN = os.path.join(os.environ.get("TEST_SRCDIR", ""), os.environ.get("TEST_WORKSPACE", ""))


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def outside():
    reexec_in_namespaces(["docker-compose", "setpriv"])


class Stack:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="edge-compose.")
        self.procs = {}
        self.made_pki_source = False

    def isolate(self):
        sh("ip", "link", "set", "lo", "up")
        for lower in ["/etc", "/usr/local", "/var/lib"]:
            name = lower.strip("/").replace("/", "-")
            up, wk = f"{self.work}/ov/{name}/up", f"{self.work}/ov/{name}/wk"
            os.makedirs(up), os.makedirs(wk)
            sh("mount", "-t", "overlay", "overlay", "-o",
               f"lowerdir={lower},upperdir={up},workdir={wk}", lower)
        sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")

    def image(self):
        """What deploy/Dockerfile's runtime stage puts in the image: the users and binaries."""
        dockerfile = open(f"{RUN}/deploy/Dockerfile").read()
        for line in ["groupadd --gid 10000 edge", "useradd --uid 10001 --gid edge",
                     "useradd --uid 10002 --gid edge", "useradd --uid 10003 --gid edge",
                     "COPY --from=build /out/ /usr/local/bin/"]:
            if line not in dockerfile:
                fail("deploy/Dockerfile no longer has: " + line)
        sh("groupadd", "--gid", "10000", "edge")
        for uid, name in [(10001, "trustd"), (10002, "edged"), (10003, "restd")]:
            sh("useradd", "--uid", str(uid), "--gid", "edge", "--no-create-home",
               "--shell", "/usr/sbin/nologin", name)
        for b in ["trustd/trustd", "trustd/trustctl", "edged/edged", "restd/restd"]:
            shutil.copy(f"{RUN}/{b}", "/usr/local/bin/")

    def compose(self):
        out = subprocess.run(["docker-compose", "-f", f"{RUN}/deploy/docker-compose.yml", "config"],
                             check=True, capture_output=True, text=True).stdout
        self.services = yaml.safe_load(out)["services"]
        self.secrets = yaml.safe_load(out).get("secrets", {})

    def inputs(self):
        """The operator's part: a PKI, a master key, sealed secrets, the configuration."""
        src = f"{self.work}/pki-source"
        sh(f"{RUN}/deploy/dev-pki.sh", src, stdout=subprocess.DEVNULL)
        sh("openssl", "pkey", "-in", f"{src}/platform.key", "-passin", "pass:dev-passphrase",
           "-out", f"{self.work}/platform-plain.key")
        key = f"{self.work}/master.key"

        def seal(text):
            return subprocess.run(["/usr/local/bin/trustctl", "encrypt", "--master-key", key, "-"],
                                  input=text, check=True, capture_output=True, text=True).stdout.strip()
        self.app_key = "compose-test-app-key"
        self.rest_password = "compose rest pass"
        config = yaml.safe_load(open(f"{RUN}/deploy/compose/config.yaml"))
        self.sim_port = self.start_sim()
        config["ws_servers"] = [{"host": "localhost", "port": self.sim_port}]
        config["appKey"] = seal(self.app_key)
        config["http_server"]["passphrase"] = seal("dev-passphrase")
        config["http_server"]["password"] = seal(self.rest_password)
        with open(f"{self.work}/config.yaml", "w") as f:
            yaml.safe_dump(config, f)
        self.host_paths = {"./compose/config.yaml": f"{self.work}/config.yaml",
                           "./compose/pki": src}
        self.secret_files = {"master_key": key}

    def start_sim(self):
        ready = f"{self.work}/sim.ready"
        self.procs["platformsim"] = subprocess.Popen(
            [f"{RUN}/tests/platformsim/platformsim", "--cert", f"{self.work}/pki-source/platform-chain.pem"
             if os.path.exists(f"{self.work}/pki-source/platform-chain.pem") else f"{self.work}/pki-source/platform.pem",
             "--key", f"{self.work}/platform-plain.key", "--app-key", "compose-test-app-key",
             "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--ready-file", ready],
            stdout=open(f"{self.work}/platformsim.log", "w"), stderr=subprocess.STDOUT)
        wait(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 20, "the simulator")
        ports = json.load(open(ready))
        self.control = ports["control"]
        return ports["ws"]

    def sim(self, path):
        return json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.control}{path}", timeout=5))

    def mounts(self):
        """Every service's volumes at their targets (one namespace holds them all: no two
        services mount different things at one path), and the compose secret."""
        seen = {}
        for name, svc in self.services.items():
            for v in svc.get("volumes", []):
                source, target = v.split(":")[0], v.split(":")[1]
                ro = v.endswith(":ro")
                for host, real in self.host_paths.items():
                    if source.endswith(host.lstrip(".")):
                        source = real
                if not source.startswith("/"):  # A named volume: an empty directory.
                    vol = f"{self.work}/volumes/{source}"
                    os.makedirs(vol, exist_ok=True)
                    source = vol
                if target in seen:
                    if seen[target] != source:
                        fail(f"{target}: mounted from two sources")
                    continue
                seen[target] = source
                if os.path.isdir(source):
                    if not os.path.exists(target):
                        if target.count("/") == 1:
                            self.made_pki_source = True
                        os.makedirs(target)
                else:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    open(target, "a").close()
                sh("mount", "--bind", source, target)
                if ro:
                    sh("mount", "-o", "remount,bind,ro", target)
        os.makedirs("/run/secrets", exist_ok=True)
        for svc in self.services.values():
            for s in svc.get("secrets", []):
                path = f"/run/secrets/{s['target']}"
                shutil.copy(self.secret_files[s["source"]], path)
                os.chown(path, int(s["uid"]), int(s["gid"]))
                os.chmod(path, int(s["mode"]))

    def run_as(self, service, argv, **kw):
        svc = self.services[service]
        uid, gid = svc["user"].split(":")
        caps = "-all" + "".join(",+" + c.lower() for c in svc.get("cap_add", []))
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
               f"--bounding-set={caps}", "--no-new-privs", "--"] + argv
        return cmd

    def start(self, service):
        argv = self.services[service]["command"]
        log = open(f"{self.work}/{service}.log", "a")
        self.procs[service] = subprocess.Popen(self.run_as(service, argv), stdout=log,
                                               stderr=subprocess.STDOUT)

    def healthy(self, service):
        test = self.services[service].get("healthcheck", {}).get("test")
        if not test:
            return True
        r = subprocess.run(self.run_as(service, test[1:]), capture_output=True, timeout=10)
        return r.returncode == 0

    def log(self, service):
        return open(f"{self.work}/{service}.log").read()

    def up(self, service):
        for dep, cond in self.services[service].get("depends_on", {}).items():
            if cond["condition"] == "service_completed_successfully":
                if self.procs[dep].wait(timeout=60) != 0:
                    fail(f"{dep} exited {self.procs[dep].returncode}:\n{self.log(dep)}")
            elif cond["condition"] == "service_healthy":
                wait(lambda: self.healthy(dep), 60, f"{dep} healthy:\n{self.log(dep)}")
        svc = self.services[service]
        if service == "init":  # Its shell script: compose's $$ is a literal $.
            svc["command"] = [c.replace("$$", "$") for c in svc["command"]]
        self.start(service)

    def down(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.made_pki_source:
            subprocess.run(["umount", "/pki-source"])
            os.rmdir("/pki-source")


def curl(*args):
    return subprocess.run(["curl", "-sk", "-o", "/dev/stderr", "-w", "%{http_code}",
                           "-D", "/dev/stdout"] + list(args), capture_output=True, text=True)


def rest_write(stack, value):
    user = f"admin:{stack.rest_password}"
    base = "https://127.0.0.1:8000/Thingworx/Things"
    head = subprocess.run(["curl", "-sk", "-u", user, "-D", "-", "-o", "/dev/null",
                           f"{base}/SystemRepository/Properties/name"],
                          capture_output=True, text=True).stdout
    token = [l.split(":", 1)[1].strip() for l in head.splitlines()
             if l.lower().startswith("x-csrf-token:")]
    if not token:
        fail("no x-csrf-token from restd:\n" + head + stack.log("restd"))
    code = subprocess.run(["curl", "-sk", "-u", user, "-o", "/dev/null", "-w", "%{http_code}",
                           "-X", "PUT", "-H", "Content-Type: application/json",
                           "-H", f"x-csrf-token: {token[0]}", "--data", json.dumps({"Level": value}),
                           f"{base}/Pump1/Properties/Level"], capture_output=True, text=True).stdout
    if code not in ("200", "202"):
        fail(f"PUT through restd answered {code}:\n{stack.log('restd')}")

    def arrived():
        return any(r.get("kind") == "write" and r.get("value") == value for r in stack.sim("/records"))
    wait(arrived, 30, f"the write of {value} at the platform")


def inside():
    stack = Stack()
    try:
        stack.isolate()
        stack.image()
        stack.compose()
        stack.inputs()
        stack.mounts()
        order = ["init", "trustd", "edged", "restd"]
        if sorted(order) != sorted(stack.services):
            fail(f"services are {sorted(stack.services)}, the test knows {order}")
        for service in order:
            stack.up(service)
        wait(lambda: stack.healthy("restd"), 60, "restd healthy:\n" + "")
        # What the init step produced, as the daemons need it.
        for path, uid, mode in [("/etc/edge/pki/restd.key", 10001, 0o400), ("/run/edge", 0, 0o2770),
                                ("/var/lib/edge/offline", 10002, 0o700), ("/run/secrets/master_key", 10001, 0o400)]:
            st = os.stat(path)
            if st.st_uid != uid or (st.st_mode & 0o7777) != mode:
                fail(f"{path}: uid {st.st_uid} mode {oct(st.st_mode & 0o7777)}, expected {uid} {oct(mode)}")
        wait(lambda: stack.sim("/status").get("connected") or stack.sim("/status").get("connections", 0) > 0,
             30, "edged at the platform:\n" + stack.log("edged"))
        rest_write(stack, 41)
        connections = stack.sim("/status")["connections"]

        # trustd restarts (compose: restart: unless-stopped); edged keeps its session.
        stack.procs["trustd"].send_signal(signal.SIGTERM)
        stack.procs["trustd"].wait(timeout=20)
        stack.start("trustd")
        wait(lambda: stack.healthy("trustd"), 60, "trustd healthy again:\n" + stack.log("trustd"))
        wait(lambda: stack.healthy("edged"), 30, "edged healthy")
        rest_write(stack, 42)
        if stack.sim("/status")["connections"] != connections:
            fail("edged's platform session was dropped by a restart of trustd:\n" + stack.log("edged"))
        print(f"PASS: compose services run as their users (init, trustd 10001, edged 10002, restd 10003); "
              f"health checks pass; REST writes reach the platform; trustd restarted with the session kept")
    finally:
        stack.down()
        for s in ["trustd", "edged", "restd", "init", "platformsim"]:
            p = f"{stack.work}/{s}.log"
            if os.path.exists(p) and os.environ.get("COMPOSE_TEST_VERBOSE"):
                print(f"--- {s}\n" + open(p).read())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        inside()
    else:
        outside()
