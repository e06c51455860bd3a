"""What the Python integration tests that run the stack in private namespaces share:
failing with a message, waiting for a condition, loopback ports, and re-running the test
inside fresh mount and network namespaces (it skips, saying why, where that cannot be)."""
import os, socket, subprocess, sys, time


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def wait(pred, seconds, what):
    """Polls `pred` every 0.2 s until it is true; fails naming `what` after `seconds`."""
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def reexec_in_namespaces(needed_tools=()):
    """Runs this script again with `--inside` in private mount and network namespaces, or
    exits 0 with SKIPPED when that cannot be (not root, no unshare) or a tool is missing."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "-n", "true"]).returncode != 0:
        print("SKIPPED: needs root and mount/network namespaces (unshare -m -n)")
        sys.exit(0)
    for tool in needed_tools:
        if not os.path.exists(tool) and subprocess.run(["sh", "-c", f"command -v {tool}"],
                                                       capture_output=True).returncode != 0:
            print(f"SKIPPED: {tool} is not installed (deploy/setup.sh installs it)")
            sys.exit(0)
    os.execvp("unshare", ["unshare", "-m", "-n", "--propagation", "private",
                          sys.executable, sys.argv[0], "--inside"])
