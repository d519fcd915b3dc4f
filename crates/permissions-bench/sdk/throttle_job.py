"""Run a list-grant-revoke job through the official Python SDK with its default retries.

Usage: python3 throttle_job.py BASE_URL CHECKPOINT GRANTS REVOKES
The job, in order, stopping at the first exception: list every permission of
CHECKPOINT (auto-paginating, 100 a page), remembering the ids; grant GRANTS new
projects proj_bench_000000.. in batches of 100 per create call; revoke the first
REVOKES ids listed, one delete call each. Unlike list.py the client keeps the SDK's
default retry settings: the point is to see how far they carry a job through a
throttled admin API. Prints one JSON line: client, completed, listed, granted,
revoked, wall_ms (from the start of the listing to the end or the failure), error
(null, or the exception's class name and the first line of its message, at most
200 characters). Exits 0 whether or not the job completed; 2 on bad arguments.
"""

import json
import sys
import time

from openai import OpenAI

LIMIT = 100
BATCH = 100


def usage() -> None:
    print("usage: python3 throttle_job.py BASE_URL CHECKPOINT GRANTS REVOKES", file=sys.stderr)
    sys.exit(2)


def count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        usage()
    if value < 0:
        usage()
    return value


def describe(error: BaseException) -> str:
    lines = str(error).splitlines()
    first = lines[0] if lines else ""
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text[:200]


def main() -> None:
    if len(sys.argv) != 5:
        usage()
    base_url, checkpoint = sys.argv[1], sys.argv[2]
    grants, revokes = count_arg(sys.argv[3]), count_arg(sys.argv[4])
    if not base_url or not checkpoint:
        usage()
    # This SDK sends api_key (not the admin key) for these endpoints.
    # No max_retries: the SDK's defaults are what this benchmark measures.
    client = OpenAI(api_key="sk-admin-bench", base_url=base_url)
    permissions = client.fine_tuning.checkpoints.permissions
    listed = granted = revoked = 0
    ids: list[str] = []
    error = None
    started = time.perf_counter()
    try:
        for permission in permissions.list(checkpoint, limit=LIMIT):
            listed += 1
            ids.append(permission.id)
        for first in range(0, grants, BATCH):
            project_ids = [f"proj_bench_{i:06d}" for i in range(first, min(first + BATCH, grants))]
            page = permissions.create(checkpoint, project_ids=project_ids)
            granted += len(page.data)
        for permission_id in ids[:revokes]:
            permissions.delete(permission_id, fine_tuned_model_checkpoint=checkpoint)
            revoked += 1
    except Exception as caught:  # noqa: BLE001 - any failure ends the job and is reported
        error = describe(caught)
    wall_ms = (time.perf_counter() - started) * 1e3
    print(json.dumps({
        "client": "python-sdk",
        "completed": error is None,
        "listed": listed,
        "granted": granted,
        "revoked": revoked,
        "wall_ms": wall_ms,
        "error": error,
    }))


if __name__ == "__main__":
    main()
