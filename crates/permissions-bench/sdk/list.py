"""List every permission of the benchmark checkpoint through the official Python SDK.

Usage: python3 list.py BASE_URL CHECKPOINT [MAX_ITEMS]
Prints one JSON line like client-bench: sdk_version, items, requests, wall_ms (the
listing only, after the import and the client's construction), cpu_ms, peak_rss_kib
(this process's own high-water mark, read after the work: VmHWM of
/proc/self/status, not ru_maxrss, which Linux carries over from the pre-exec copy of
the parent's memory).
"""

import json
import resource
import sys
import time

from openai import OpenAI, __version__

LIMIT = 100


def peak_rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    base_url, checkpoint = sys.argv[1], sys.argv[2]
    max_items = int(sys.argv[3]) if len(sys.argv) > 3 else None
    # This SDK sends api_key (not the admin key) for these endpoints.
    client = OpenAI(api_key="sk-admin-bench", base_url=base_url, max_retries=0)
    started = time.perf_counter()
    cpu_started = time.process_time()
    items = 0
    for _permission in client.fine_tuning.checkpoints.permissions.list(checkpoint, limit=LIMIT):
        items += 1
        if max_items is not None and items >= max_items:
            break
    wall_ms = (time.perf_counter() - started) * 1e3
    cpu_ms = (time.process_time() - cpu_started) * 1e3
    requests = max(1, -(-items // LIMIT))
    print(json.dumps({
        "client": "python-sdk",
        "sdk_version": __version__,
        "task": "list",
        "items": items,
        "requests": requests,
        "wall_ms": wall_ms,
        "us_per_request": wall_ms * 1e3 / requests,
        "cpu_ms": cpu_ms,
        "cpu_us_per_request": cpu_ms * 1e3 / requests,
        "peak_rss_kib": peak_rss_kib(),
    }))


if __name__ == "__main__":
    main()
