# Drives the OVS Python IDL against a server: waits until its replica has
# the row "from-go" (inserted by the test), inserts "from-python", waits
# for the commit, and prints the names it sees. Used by TestPythonIDL.
import sys
import time

import ovs.db.idl
import ovs.poller

remote, schema = sys.argv[1], sys.argv[2]
helper = ovs.db.idl.SchemaHelper(schema)
helper.register_all()
idl = ovs.db.idl.Idl(remote, helper)


def names():
    return sorted(r.s for r in idl.tables["A"].rows.values())


def run_until(pred, what):
    deadline = time.time() + 15
    while time.time() < deadline:
        idl.run()
        if pred():
            return
        p = ovs.poller.Poller()
        idl.wait(p)
        p.timer_wait(100)
        p.block()
    sys.exit("timed out waiting for " + what + "; have " + repr(names()))


run_until(lambda: "from-go" in names(), "from-go")
txn = ovs.db.idl.Transaction(idl)
row = txn.insert(idl.tables["A"])
row.s = "from-python"
status = txn.commit_block()
if status != ovs.db.idl.Transaction.SUCCESS:
    sys.exit("commit: " + ovs.db.idl.Transaction.status_to_string(status))
run_until(lambda: "from-python" in names(), "from-python")
print(",".join(names()))
idl.close()
