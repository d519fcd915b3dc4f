"""Runs the official OpenAI Python SDK against a permissions emulator.

Usage: python3 sdk_conformance.py BASE_URL ADMIN_KEY ORGANIZATION_FILE [SCRIPTED_429S]

BASE_URL is the emulator's base URL (``http://127.0.0.1:PORT/v1``). The emulator must
be fresh (no permissions on the checkpoints used here) and seeded with
ORGANIZATION_FILE, a seed file of the emulator that describes the organization: its
``projects`` (every one with a ``created_at``; ``proj_00``..``proj_24`` active, at
least one archived), and ``checkpoints`` that list CHECKPOINT and OTHER. The SDK's
list of projects must agree with that file. SCRIPTED_429S (0 to 2, default 0) is the
number of 429 faults the emulator has scripted for its next requests: the first call,
made with two retries, must succeed after exactly that many retries. Exits 0 when
every check passes; prints one JSON line ``{"requests": N, "checks": M}`` at the end,
N being the number of HTTP requests the SDK sent (retries included).
"""

import json
import re
import sys
import warnings

import openai

CHECKPOINT = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd"
OTHER = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88"
UNLISTED = "ft:gpt-4o-mini-2024-07-18:org:elsewhere:Zz9Yy8Xx"
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


def make_client(base_url, key, retries=0, admin_key=None):
    return openai.OpenAI(
        api_key=key,
        admin_api_key=admin_key,
        base_url=base_url,
        max_retries=retries,
        timeout=30,
        http_client=openai.DefaultHttpx2Client(event_hooks={"request": [count_request]}),
    )


def expected_projects(organization, include_archived):
    """The seed's projects as the emulator lists them: by created_at, ties in seed order."""
    ordered = sorted(organization["projects"], key=lambda p: p["created_at"])
    return [p for p in ordered if include_archived or p.get("status", "active") != "archived"]


def check_project(project, seeded):
    what = f"project {seeded['id']}"
    check(project.id == seeded["id"], f"{what}: id {project.id}")
    check(project.object == "organization.project", f"{what}: object {project.object}")
    check(project.name == seeded.get("name"), f"{what}: name {project.name!r}")
    check(project.created_at == seeded["created_at"], f"{what}: created_at {project.created_at}")
    status = seeded.get("status", "active")
    check(project.status == status, f"{what}: status {project.status}")
    if status == "archived":
        check(project.archived_at == seeded.get("archived_at", project.archived_at)
              and project.archived_at is not None, f"{what}: archived_at {project.archived_at}")
    else:
        check(project.archived_at is None, f"{what}: archived_at {project.archived_at}")


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


def main(base_url, admin_key, organization, scripted_429s):
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

    # 7. The organization's projects, through the admin key (this client's api_key is
    # a project key, which the emulator would refuse with 403).
    projects = make_client(base_url, "sk-proj-not-for-admin-endpoints", admin_key=admin_key).admin.organization.projects
    active = expected_projects(organization, include_archived=False)
    everything = expected_projects(organization, include_archived=True)
    check(len(active) > 20 and len(everything) > len(active), "the organization has pages and archived projects")
    first = projects.list(limit=10)
    check([p.id for p in first.data] == [p["id"] for p in active[:10]], "first page of projects")
    check(first.has_more is True and first.last_id == active[9]["id"], f"first page: has_more {first.has_more}, last_id {first.last_id}")
    check(getattr(first, "first_id", None) == active[0]["id"], "first page: first_id")
    pages = list(projects.list(limit=10).iter_pages())
    sizes = [len(page.data) for page in pages]
    check(sizes == [len(active[i:i + 10]) for i in range(0, len(active), 10)], f"pages of active projects: {sizes}")
    check(pages[-1].has_more is False, "the last page has no more")
    listed = list(projects.list(limit=10))
    check([p.id for p in listed] == [p["id"] for p in active], "auto-pagination lists every active project, in order")
    for project, seeded in zip(listed, active):
        check_project(project, seeded)
    listed = list(projects.list(limit=7, include_archived=True))
    check([p.id for p in listed] == [p["id"] for p in everything], "include_archived lists every project, in order")
    for project, seeded in zip(listed, everything):
        check_project(project, seeded)
    check(any(p.status == "archived" for p in listed), "archived projects are listed when asked for")
    unarchived = list(projects.list(include_archived=False))
    check([p.id for p in unarchived] == [p["id"] for p in active], "include_archived=False leaves archived projects out")
    default = projects.list()
    check(len(default.data) == min(20, len(active)) and default.has_more == (len(active) > 20), "defaults: 20 a page")
    after = projects.list(after=active[4]["id"], limit=100)
    check([p.id for p in after.data] == [p["id"] for p in active[5:]], "after is exclusive")
    check(not after.has_next_page(), "the page after has no more")
    e = expect_error(openai.BadRequestError, 400, "projects limit 0", lambda: projects.list(limit=0))
    check(e.param == "limit", f"param {e.param}")
    e = expect_error(openai.BadRequestError, 400, "unknown projects cursor", lambda: projects.list(after="proj_unknown"))
    check(e.param == "after" and e.code == "invalid_cursor", f"param {e.param}, code {e.code}")

    # 8. What the organization refuses: an unknown or archived project, an unlisted
    # checkpoint, malformed ids.
    archived = next(p["id"] for p in everything if p.get("status") == "archived")
    for refused in (["proj_00", "proj_not_in_this_org"], ["proj_00", archived]):
        e = expect_error(openai.BadRequestError, 400, f"grant {refused}",
                         lambda: client.fine_tuning.checkpoints.permissions.create(CHECKPOINT, project_ids=refused))
        check(e.param == "project_ids" and e.type == "invalid_request_error", f"param {e.param}, type {e.type}")
    for what, call in [
        ("list", lambda: client.fine_tuning.checkpoints.permissions.list(UNLISTED)),
        ("create", lambda: client.fine_tuning.checkpoints.permissions.create(UNLISTED, project_ids=["proj_00"])),
        ("delete", lambda: client.fine_tuning.checkpoints.permissions.delete(created_ids[1], fine_tuned_model_checkpoint=UNLISTED)),
    ]:
        e = expect_error(openai.NotFoundError, 404, f"unlisted checkpoint, {what}", call)
        check(e.code == "model_not_found", f"code {e.code}")
    for what, param, call in [
        ("checkpoint object id", "fine_tuned_model_checkpoint",
         lambda: client.fine_tuning.checkpoints.permissions.list("ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB")),
        ("malformed project id", "project_ids[1]",
         lambda: client.fine_tuning.checkpoints.permissions.create(CHECKPOINT, project_ids=["proj_00", "Research"])),
        ("malformed permission id", "permission_id",
         lambda: client.fine_tuning.checkpoints.permissions.delete("perm_1", fine_tuned_model_checkpoint=CHECKPOINT)),
        ("malformed after", "after",
         lambda: client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, after="proj_00")),
        ("malformed project_id", "project_id",
         lambda: client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, project_id="Research")),
    ]:
        e = expect_error(openai.BadRequestError, 400, what, call)
        check(e.param == param and e.code == "invalid_value", f"{what}: param {e.param}, code {e.code}")

    # Nothing above wrote anything it should not have.
    final = [p.id for p in client.fine_tuning.checkpoints.permissions.list(CHECKPOINT, order="ascending", limit=100)]
    check(final == created_ids[1:], "no side effects from refused requests")
    check(list(client.fine_tuning.checkpoints.permissions.list(OTHER)) == [], "other checkpoint untouched")

    print(json.dumps({"requests": requests_sent, "checks": checks}))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    with open(sys.argv[3], encoding="utf-8") as file:
        organization = json.load(file)
    main(sys.argv[1], sys.argv[2], organization, int(sys.argv[4]) if len(sys.argv) == 5 else 0)
