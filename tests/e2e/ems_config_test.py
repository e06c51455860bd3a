#!/usr/bin/python3
"""An EMS user's config.json, written as EMS documents it, runs unchanged: plaintext
secrets, cert_chain an array, auto_bind over https, logger and proxy groups, no trustd /
edged / restd groups (so the sockets are /run/edge/*.sock and the offline store
/var/lib/edge/offline, EMS's REST port 8000) and no /var/lib/edge on the machine. The
stack runs in private mount and network namespaces (an overlay on /var/lib, a tmpfs on
/run) so that those default paths and ports can be used without touching the machine."""
import json, os, shutil, signal, subprocess, sys, tempfile, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from namespaced_test import can_connect, fail, free_port, reexec_in_namespaces, wait  # noqa: E402

os.environ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN = os.path.join(os.environ.get("TEST_SRCDIR", ""), os.environ.get("TEST_WORKSPACE", ""))


def main():
    if len(sys.argv) < 2:
        reexec_in_namespaces(["/usr/sbin/squid"])
    work = tempfile.mkdtemp(prefix="ems-config.")
    os.chmod(work, 0o755)
    procs = []
    logs = {}

    def start(name, argv, cwd=work):
        logs[name] = f"{work}/{name}.log"
        procs.append(subprocess.Popen(argv, cwd=cwd, stdout=open(logs[name], "w"),
                                      stderr=subprocess.STDOUT))
        return procs[-1]

    def log(name):
        return open(logs[name]).read()

    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        os.makedirs(f"{work}/ov/up"), os.makedirs(f"{work}/ov/wk")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir=/var/lib,upperdir={work}/ov/up,workdir={work}/ov/wk", "/var/lib"],
                       check=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)
        shutil.rmtree("/var/lib/edge", ignore_errors=True)  # An EMS machine has none.

        etc = f"{work}/ems"  # Where the EMS user keeps config.json and the PKI.
        subprocess.run([f"{RUN}/deploy/dev-pki.sh", etc], check=True, stdout=subprocess.DEVNULL)
        for leaf in ["platform", "edge"]:
            subprocess.run(["openssl", "pkey", "-in", f"{etc}/{leaf}.key", "-passin",
                            "pass:dev-passphrase", "-out", f"{work}/{leaf}-plain.key"], check=True)

        ready = f"{work}/sim.ready"
        start("platformsim", [f"{RUN}/tests/platformsim/platformsim", "--cert", f"{etc}/platform-chain.pem",
                              "--key", f"{work}/platform-plain.key", "--app-key", "ems-app-key",
                              "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--ready-file", ready])
        wait(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 20, "the simulator")
        sim = json.load(open(ready))
        endpoint_port = free_port()
        start("endpoint", [f"{RUN}/tests/edgeendpoint/edge_endpoint", "--listen", f"127.0.0.1:{endpoint_port}",
                           "--cert", f"{etc}/edge-chain.pem", "--key", f"{work}/edge-plain.key",
                           "--user", "lsr", "--password", "lsr secret", "--ready-file", f"{work}/ep.ready"])
        squid_port = free_port()
        os.makedirs(f"{work}/squid")
        shutil.chown(f"{work}/squid", "proxy", "proxy")
        with open(f"{work}/squid.conf", "w") as f:
            f.write(f"http_port 127.0.0.1:{squid_port}\npid_filename {work}/squid/squid.pid\n"
                    f"access_log stdio:{work}/squid/access.log\ncache_log {work}/squid/cache.log\n"
                    "cache_store_log none\ncache deny all\nshutdown_lifetime 1 seconds\n"
                    "acl CONNECT method CONNECT\nhttp_access allow CONNECT\nhttp_access deny all\n")
        start("squid", ["/usr/sbin/squid", "-N", "-f", f"{work}/squid.conf"])
        wait(lambda: can_connect(squid_port) and can_connect(endpoint_port), 30, "squid and the endpoint")

        # The file, as EMS documents it.
        config = {
            "ws_servers": [{"host": "localhost", "port": sim["ws"]}],
            "appKey": "ems-app-key",
            "ws_connection": {"encryption": "ssl", "connect_retry_interval": 1000},
            "http_server": {"port": 8000, "ssl": True, "certificate": "restd-chain.pem",
                            "private_key": "restd.key", "passphrase": "dev-passphrase",
                            "authenticate": True, "user": "admin", "password": "ems rest pass"},
            "certificates": {"validate": True, "cert_chain": ["root.pem"]},
            "auto_bind": [{"name": "EmsPump", "host": "localhost", "port": endpoint_port,
                           "protocol": "https", "user": "lsr", "password": "lsr secret"}],
            "logger": {"level": "INFO"},
            "proxy": {"host": "127.0.0.1", "port": squid_port},
        }
        with open(f"{etc}/config.json", "w") as f:
            json.dump(config, f, indent=2)

        check = subprocess.run([f"{RUN}/trustd/trustctl", "check-config", f"{etc}/config.json"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            fail(f"check-config refuses the EMS file:\n{check.stdout}{check.stderr}")
        for daemon in ["trustd", "edged", "restd"]:
            start(daemon, [f"{RUN}/{daemon}/{daemon}", "--config", f"{etc}/config.json"])
            if daemon == "trustd":
                wait(lambda: os.path.exists("/run/edge/trustd.sock"), 20, "trustd's socket:\n" + log("trustd"))
        wait(lambda: can_connect(8000), 30, "restd on EMS's port 8000:\n" + log("restd"))
        def bound():
            status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sim['control']}/status"))
            return "EmsPump" in json.dumps(status.get("bound", []))
        wait(bound, 30, "edged at the platform, EmsPump bound:\n" + log("edged"))

        for path, mode in [("/run/edge", 0o750), ("/var/lib/edge/offline", 0o700)]:
            if not os.path.isdir(path) or (os.stat(path).st_mode & 0o777) != mode:
                fail(f"{path} was not created with mode {oct(mode)}")
        if "through the proxy 127.0.0.1:" not in log("edged"):
            fail("edged did not use the proxy group:\n" + log("edged"))

        # A REST write as an EMS user makes it, and the platform calling the auto_bind Thing.
        curl = ["curl", "-s", "--cacert", f"{etc}/root.pem", "-u", "admin:ems rest pass"]
        base = "https://localhost:8000/Thingworx/Things"
        head = subprocess.run(curl + ["-D", "-", "-o", "/dev/null", f"{base}/SystemRepository/Properties/name"],
                              capture_output=True, text=True).stdout
        token = [l.split(":", 1)[1].strip() for l in head.splitlines() if l.lower().startswith("x-csrf-token:")]
        if not token:
            fail("no answer from restd:\n" + head + log("restd"))
        code = subprocess.run(curl + ["-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                                      "-H", "Content-Type: application/json", "-H", f"x-csrf-token: {token[0]}",
                                      "--data", '{"Temperature": 19.5}', f"{base}/EmsPump/Properties/Temperature"],
                              capture_output=True, text=True).stdout
        if code != "200":
            fail(f"PUT answered {code}:\n{log('restd')}")
        records = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sim['control']}/records"))
        if not any(r.get("kind") == "write" and r.get("value") == 19.5 for r in records):
            fail("the write did not reach the platform")
        wait(lambda: "serves EmsPump" in log("edged"), 20, "restd serving EmsPump through edged")
        req = urllib.request.Request(f"http://127.0.0.1:{sim['control']}/call", method="POST",
                                     data=json.dumps({"thing": "EmsPump", "method": "GET",
                                                      "name": "Temperature"}).encode())
        answer = json.load(urllib.request.urlopen(req, timeout=20))
        if answer.get("status") != "SUCCESS":
            fail(f"the platform's call of EmsPump: {answer}\n{log('restd')}")
        print("PASS: an EMS config.json (plaintext secrets, cert_chain array, auto_bind over https, "
              "logger, proxy, no trustd/edged/restd groups, no /var/lib/edge) runs: REST on 8000, "
              "the platform through the proxy, the auto_bind Thing served")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("EMS_TEST_VERBOSE"):
            for name in logs:
                print(f"--- {name}\n" + log(name))


if __name__ == "__main__":
    main()
