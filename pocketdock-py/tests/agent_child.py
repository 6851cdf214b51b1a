"""Run by test_api.py in a fresh interpreter without ``POCKETDOCK_AGENT``: the import must point
the core at the agent the wheel installed, and the sandbox must come to run it.

    python agent_child.py EXPECTED_AGENT_PATH CONTAINER_NAME
"""

from __future__ import annotations

import os
import sys
import time

import pocketdock

# Every process's command line, one per line (no ps needed in the image).
LISTING = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"


def main() -> None:
    expected, name = sys.argv[1], sys.argv[2]
    found = os.environ.get("POCKETDOCK_AGENT")
    if found != expected:
        raise SystemExit(f"POCKETDOCK_AGENT is {found!r}, not {expected!r}")
    with pocketdock.create_new_container(name=name) as c:
        # The agent starts in the background after the first command; wait for it.
        for _ in range(100):
            if "/.pocketdock/agent-" in c.run(LISTING).stdout:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("no agent process in the sandbox")
        if c.run("echo through").stdout != "through\n":
            raise SystemExit("a command through the agent lost its output")
    print("agent ok")


if __name__ == "__main__":
    main()
