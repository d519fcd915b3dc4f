"""Runs the official OpenAI Python SDK against a permissions emulator.

Usage: python3 sdk_conformance.py BASE_URL ADMIN_KEY [SCRIPTED_429S]

BASE_URL is the emulator's base URL (``http://127.0.0.1:PORT/v1``). The emulator must
be fresh (no permissions on the checkpoints used here). SCRIPTED_429S (0 to 2, default
0) is the number of 429 faults the emulator has scripted for its next requests: the
first call, made with two retries, must succeed after exactly that many retries. Exits 0
when every check passes; prints one JSON line ``{"requests": N, "checks": M}`` at the
end, N being the number of HTTP requests the SDK sent (retries included).
"""

import json
import re
import sys
import warnings

import openai

CHECKPOINT = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd"
OTHER = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88"
ID = re.compile(r"^cp_[A-Za-z0-9]{24}$")

checks = 0
requests_sent = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def count_request(_request):
    global requests_sent
    requests_sent += 1


def make_client(base_url, key, retries=0):
    return openai.OpenAI(
        api_key=key,
        base_url=base_url,
        max_retries=retries,
        timeout=30,
        http_client=openai.DefaultHttpx2Client(event_hooks={"request": [count_request]}),
    )


def expect_error(cls, status, what, call):
    try:
        call()
    except cls as error:
        check(error.status_code == status, f"{what}: status {error.status_code}")
        check(isinstance(error.body, dict) and "message" in error.body, f"{what}: body {error.body}")
        check(error.type is not None, f"{what}: error type")
        check(bool(error.request_id) and error.request_id.startswith("req_"), f"{what}: request id")
        return error
    except openai.APIError as error:
        raise AssertionError(f"{what}: expected {cls.__name__}, got {type(error).__name__}: {error}")
    raise AssertionError(f"{what}: expected {cls.__name__}, got success")


def main(base_url, admin_key, scripted_429s):
    client = make_client(base_url, admin_key)

    # 1. Retries: the emulator answers the first requests 429 with retry-after-ms.
    retrying = make_client(base_url, admin_key, retries=2)
    page = retrying.fine_tuning.checkpoints.permissions.list(CHECKPOINT)
    check(page.data == [], "fresh emulator")
    check(requests_sent == scripted_429s + 1, f"{scripted_429s} 429s retried: {requests_sent} requests")

    # 2. create: one permission per project, as one page that does not paginate.
    projects = [f"proj_{i:02d}" for i in range(25)]
    created = client.fine_tuning.checkpoints.permissions.create(CHECKPOINT, project_ids=projects)
    check(len(created.data) == 25, f"created {len(created.data)}")
    check([p.project_id for p in created.data] == projects, "created in request order")
    check(all(ID.match(p.id) for p in created.data), "ids look real")
    check(all(p.object == "checkpoint.permission" and p.created_at > 1_600_000_000 for p in created.data), "objects")
    check(not created.has_next_page(), "create does not paginate")
    created_ids = [p.id for p in created.data]

    # Granting again returns the existing permission.
    again = client.fine_tuning.checkpoints.permissions.create(CHECKPOINT, project_ids=["proj_03"])
    check([p.id for p in again.data] == [created_ids[3]], "duplicate grant returns the existing one")

    # 3. list: auto-pagination over three pages, both orders.
    ascending = client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, limit=10, order="ascending")
    pages = list(ascending.iter_pages())
    check(len(pages) == 3, f"{len(pages)} pages")
    check([len(p.data) for p in pages] == [10, 10, 5], "page sizes")
    check([p.id for p in ascending] == created_ids, "ascending order is creation order")
    descending = client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, limit=10, order="descending")
    check([p.id for p in descending] == created_ids[::-1], "descending is the reverse")
    default = client.fine_tuning.checkpoints.permissions.list(CHECKPOINT)
    check(len(default.data) == 10 and default.data[0].id == created_ids[-1], "defaults: 10, descending")
    check(default.has_next_page(), "default page has more")
    filtered = list(client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, project_id="proj_07", order="ascending"))
    check([p.id for p in filtered] == [created_ids[7]], "project_id filter")
    after = client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, after=created_ids[19], order="ascending", limit=100)
    check([p.id for p in after.data] == created_ids[20:], "after is exclusive")
    check(after.data and not after.has_next_page(), "last page")

    # 4. retrieve (deprecated): one page with first_id/last_id/has_more.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        retrieved = client.fine_tuning.checkpoints.permissions.retrieve(CHECKPOINT, limit=5, order="ascending")
    check([p.id for p in retrieved.data] == created_ids[:5], "retrieve data")
    check(retrieved.first_id == created_ids[0] and retrieved.last_id == created_ids[4], "retrieve ids")
    check(retrieved.has_more is True and retrieved.object == "list", "retrieve has_more")

    # 5. delete.
    deleted = client.fine_tuning.checkpoints.permissions.delete(created_ids[0], fine_tuned_model_checkpoint=CHECKPOINT)
    check(deleted.id == created_ids[0] and deleted.deleted is True and deleted.object == "checkpoint.permission", "delete")
    remaining = [p.id for p in client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, order="ascending", limit=100)]
    check(remaining == created_ids[1:], "deleted permission is gone")

    # 6. The SDK's own error classes.
    e = expect_error(openai.BadRequestError, 400, "limit 0",
                     lambda: client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, limit=0))
    check(e.param == "limit", f"param {e.param}")
    expect_error(openai.BadRequestError, 400, "empty project_ids",
                 lambda: client.fine_tuning.checkpoints.permissions.create(CHECKPOINT, project_ids=[]))
    e = expect_error(openai.BadRequestError, 400, "unknown field",
                     lambda: client.fine_tuning.checkpoints.permissions.create(CHECKPOINT, project_ids=["p"], extra_body={"bogus": 1}))
    check(e.param == "bogus", f"param {e.param}")
    expect_error(openai.AuthenticationError, 401, "malformed key",
                 lambda: make_client(base_url, "not a key").fine_tuning.checkpoints.permissions.list(CHECKPOINT))
    expect_error(openai.PermissionDeniedError, 403, "project key",
                 lambda: make_client(base_url, "sk-proj-0123456789").fine_tuning.checkpoints.permissions.list(CHECKPOINT))
    expect_error(openai.NotFoundError, 404, "deleted twice",
                 lambda: client.fine_tuning.checkpoints.permissions.delete(created_ids[0], fine_tuned_model_checkpoint=CHECKPOINT))
    expect_error(openai.NotFoundError, 404, "another checkpoint's permission",
                 lambda: client.fine_tuning.checkpoints.permissions.delete(created_ids[1], fine_tuned_model_checkpoint=OTHER))

    # Nothing above wrote anything it should not have.
    final = [p.id for p in client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, order="ascending", limit=100)]
    check(final == created_ids[1:], "no side effects from refused requests")
    check(list(client.fine_tuning.checkpoints.permissions.list(OTHER)) == [], "other checkpoint untouched")

    print(json.dumps({"requests": requests_sent, "checks": checks}))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 0)
