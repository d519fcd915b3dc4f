"""Schemathesis hooks of the emulator's conformance run (crates/permissions-emulator/tests/conformance.rs).

The fragment leaves every id unconstrained (any string), while the API, and the
emulator, take only ids of their shapes, and only the checkpoints and projects of the
organization. Left alone, schemathesis would almost never generate a grant that
succeeds, and its stateful phase could follow no link. These hooks move three
generated values in four onto the organization of the seed file named by
EMULATOR_ORGANIZATION (the one the emulator was started with): a checkpoint path
parameter becomes one of its checkpoints, the project ids of a create body active
projects that own no checkpoint. The fourth is sent as generated (mostly a malformed
or unknown id, which the emulator refuses with 400 or 404). A value that already
names the organization's checkpoint or project (one a link carried over from an
earlier answer) is kept.
"""

import json
import os
import zlib

import schemathesis

with open(os.environ["EMULATOR_ORGANIZATION"], encoding="utf-8") as _file:
    _ORGANIZATION = json.load(_file)
_CHECKPOINTS = [checkpoint["id"] for checkpoint in _ORGANIZATION["checkpoints"]]
_OWNERS = {checkpoint["owner_project_id"] for checkpoint in _ORGANIZATION["checkpoints"]}
_PROJECTS = [
    project["id"]
    for project in _ORGANIZATION["projects"]
    if project.get("status", "active") == "active" and project["id"] not in _OWNERS
]
_KNOWN = set(_CHECKPOINTS) | {project["id"] for project in _ORGANIZATION["projects"]}


def _choice(value):
    """A number drawn from `value` (the same value, the same number), or None for one value in four."""
    digest = zlib.crc32(repr(value).encode("utf-8"))
    return None if digest % 4 == 0 else digest // 4


# A delete keeps the checkpoint it was generated with: links carry real ones over
# from a create or a list. (A map hook of any kind on the delete, which has no body,
# would also leave schemathesis generating few deletes.)
@schemathesis.hook.apply_to(
    operation_id=["listFineTuningCheckpointPermissions", "createFineTuningCheckpointPermission"]
)
def map_path_parameters(context, path_parameters):
    # Negative cases may have no parameters at all, or not a string.
    if not isinstance(path_parameters, dict):
        return path_parameters
    checkpoint = path_parameters.get("fine_tuned_model_checkpoint")
    if not isinstance(checkpoint, str) or checkpoint in _KNOWN:
        return path_parameters
    choice = _choice(checkpoint)
    if choice is not None:
        path_parameters["fine_tuned_model_checkpoint"] = _CHECKPOINTS[choice % len(_CHECKPOINTS)]
    return path_parameters


@schemathesis.hook.apply_to(operation_id="createFineTuningCheckpointPermission")
def map_body(context, body):
    if not (isinstance(body, dict) and isinstance(body.get("project_ids"), list)):
        return body
    if _choice(body) is None:
        return body
    body["project_ids"] = [
        item if not isinstance(item, str) or item in _KNOWN
        else _PROJECTS[zlib.crc32(item.encode("utf-8")) % len(_PROJECTS)]
        for item in body["project_ids"]
    ]
    return body
