"""Keep an OVS Python IDL replica of OVN_Northbound and print it.

Usage: /usr/bin/python3 idl_replica.py REMOTE SCHEMA

Prints one line "STATE <json>" whenever the replica changes, with the
replica (table -> uuid -> column -> value), how many times the IDL cleared
its tables (a full resync does that, a found=true resume does not), how
many rows the monitor replies carried, and the IDL's last transaction id.
Runs until killed.
"""

import json
import sys
import uuid

import ovs.db.idl
import ovs.poller

TABLES = {
    "Logical_Switch": ["name", "ports"],
    "Logical_Switch_Port": ["name", "addresses"],
}


def plain(v):
    if isinstance(v, ovs.db.idl.Row):
        return str(v.uuid)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return sorted(plain(x) for x in v)
    if isinstance(v, dict):
        return {str(plain(k)): plain(x) for k, x in v.items()}
    return v


def main():
    remote, schema = sys.argv[1], sys.argv[2]
    helper = ovs.db.idl.SchemaHelper(location=schema)
    for table, cols in TABLES.items():
        helper.register_columns(table, cols)
    idl = ovs.db.idl.Idl(remote, helper, leader_only=True)

    stats = {"clears": 0, "reply_rows": 0, "replies": 0, "found": []}
    clear = idl._Idl__clear

    def counting_clear():
        stats["clears"] += 1
        clear()

    idl._Idl__clear = counting_clear

    # Count the rows of every monitor_cond_since reply and remember found.
    recv_reply = idl._Idl__parse_update

    def parse_update(update, version, *args, **kwargs):
        if idl.state == idl.IDL_S_DATA_MONITOR_COND_SINCE_REQUESTED:
            stats["replies"] += 1
            stats["reply_rows"] += sum(len(rows) for rows in (update or {}).values())
        return recv_reply(update, version, *args, **kwargs)

    idl._Idl__parse_update = parse_update

    seqno = None
    while True:
        idl.run()
        if idl.change_seqno != seqno and idl.state == idl.IDL_S_MONITORING:
            seqno = idl.change_seqno
            replica = {}
            for table, cols in TABLES.items():
                replica[table] = {
                    str(u): {c: plain(getattr(row, c)) for c in cols}
                    for u, row in idl.tables[table].rows.items()
                }
            out = dict(stats, replica=replica, last_id=str(idl.last_id),
                       seqno=seqno)
            print("STATE " + json.dumps(out, sort_keys=True), flush=True)
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.block()


if __name__ == "__main__":
    main()
