"""Start a patched moto server on 127.0.0.1 and a kernel-chosen port.

Prints "PORT=<n>" on stdout once the socket is bound (the Go side reads it, so
there is no window in which another process can take the port), then serves
until killed. Exits by itself when its parent process goes away, so a crashed
test run never leaves a server behind.

Environment:
  EMULATOR_DISABLE_PATCHES  comma-separated patch names to skip (tests use it
                            to show that each patch is what fixes its gap).
  EMULATOR_LISTEN_FD        an inherited descriptor of a TCP socket already
                            listening on 127.0.0.1: serve on it instead of
                            binding a port (PORT= then reports its port).
  EMULATOR_TEST_*           instrumentation for the emulator's tests (testhooks.py).
"""

import os
import sys
import threading
import time

MISSING_MOTO_EXIT = 3


def _watch_parent(parent_pid: int) -> None:
    # Pdeathsig on the Go side covers most cases; this covers the rest (for
    # example the forking OS thread exiting before the process does).
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def main() -> None:
    parent_pid = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()

    try:
        import moto  # noqa: F401
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError as err:
        sys.stderr.write(f"moto server is not importable: {err}\n")
        sys.exit(MISSING_MOTO_EXIT)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import patches

    disabled = {
        p.strip()
        for p in os.environ.get("EMULATOR_DISABLE_PATCHES", "").split(",")
        if p.strip()
    }
    import testhooks

    applied = patches.apply_all(disabled) + testhooks.apply()
    sys.stderr.write(
        f"moto {moto.__version__}: patches applied: {', '.join(applied) or 'none'}\n"
    )

    app = DomainDispatcherApplication(create_backend_app)
    listen_fd = os.environ.get("EMULATOR_LISTEN_FD", "")
    if listen_fd:
        fd = int(listen_fd)
        server = make_server("127.0.0.1", 0, app, threaded=True, fd=fd)
        os.close(fd)  # the server holds its own duplicate
    else:
        server = make_server("127.0.0.1", 0, app, threaded=True)
    sys.stdout.write(f"PORT={server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
