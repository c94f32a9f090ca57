"""Prints a write's pgbench SQL with its audit entry recorded together with
events, as the service records them (scripts/lib/bench_webhooks.sh's
with_events): the file's `audit_append(...)` statement becomes a call of
FUNCTION (`audit_record`, or the bench's floor copy of it) with the same
entry and the given events.

Arguments: FILE FUNCTION OPERATION RESOURCE_TYPE PRACTICE API_CLIENT CLIENT
IDS TYPES DATA: the events' SQL expressions, each list joined by commas.
"""

import re
import sys

path, function, operation, resource, practice, api_client, client, ids, types, data = sys.argv[1:]
sql = open(path).read()
call = (
    f"SELECT {function}('{practice}', gen_random_uuid(), now(), '{api_client}', NULL, 'create', '{operation}', "
    f"'{resource}', gen_random_uuid(), '{client}'::uuid, 201, 'bench', '127.0.0.1', NULL, NULL,\n"
    f"  ARRAY[{ids}], ARRAY[{types}], ARRAY[{data}]);"
)
sql, found = re.subn(r"SELECT audit_append\(.*?\);", lambda _: call, sql, count=1, flags=re.S)
if found != 1:
    sys.exit(f"{path} records no audit entry to carry the events")
sys.stdout.write(sql)
