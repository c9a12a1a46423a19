"""A full disk under the audit log (issue 14): the log refuses records (the service answers
503) and reports itself unhealthy; once space is back, a probe brings it back by itself;
every record it accepted is readable. The disk is filled for the writer's process alone by
lowering its file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so a write past the
limit fails with EFBIG as on a full disk), in a child process so that nothing else here
is limited. ``bench.attack`` does the same on a real full tmpfs."""

from __future__ import annotations

import json
import subprocess
import sys

from serving.audit_store import read_records

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from serving.audit import AuditLog, AuditUnavailable

path = Path(sys.argv[1])
log = AuditLog(path).start(dictionary=b'{"patient_id": "P0", "answer": 0}')

def record(i):
    answer = json.dumps({"patient_id": f"P{i}", "answer": i, "pad": "x" * 500}).encode()
    return log.record(f"R{i}", "recommend", "t", "1", {"i": i}, answer)

accepted, refused = [], 0
log.submit([record(0)]).result(10)
accepted.append(0)
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
full = max(p.stat().st_size for p in path.parent.iterdir())
resource.setrlimit(resource.RLIMIT_FSIZE, (full, hard))  # no file may grow: the disk is full
for i in range(1, 5000):
    try:
        log.submit([record(i)]).result(10)
        accepted.append(i)
    except AuditUnavailable:
        refused += 1
        break
full_state = {"healthy": log.healthy, "probe": log.probe()}
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is back
time.sleep(1.1)  # the probe runs at most once a second
back = {"probe": log.probe(), "healthy": log.healthy}
log.submit([record(9999)]).result(10)
accepted.append(9999)
log.close()
print(json.dumps({"refused": refused, "full": full_state, "back": back, "accepted": accepted}))
"""


def test_a_full_disk_refuses_records_until_space_is_back(tmp_path):
    path = tmp_path / "audit.db"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["refused"] == 1  # the log filled up and said so
    assert result["full"] == {"healthy": False, "probe": False}  # /readyz: 503
    assert result["back"] == {"probe": True, "healthy": True}  # by itself
    stored = [r["output"]["answer"] for r in read_records(path)]
    assert stored == result["accepted"]  # every accepted record, nothing refused
