package etcdtest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// LeakWait bounds how long VerifyTestMain waits for goroutines to end.
// An embedded etcd's peer connections outlive Close by up to rafthttp's
// 5 s connection read timeout (timeoutConn re-arms the read deadline that
// net/http sets to abort a pending read), so goleak's own ~1 s of retries
// is not enough right after a multi-member cluster stopped.
const LeakWait = 15 * time.Second

// VerifyTestMain is goleak.VerifyTestMain for packages that run embedded
// etcd: it runs the tests and, if they passed, fails the run when
// goroutines are still running after LeakWait. It ignores nothing by
// itself; opts are passed to goleak.Find.
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if code == 0 {
		if err := findLeaks(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func findLeaks(opts ...goleak.Option) error {
	deadline := time.Now().Add(LeakWait)
	for {
		// Find itself retries with backoff for about a second.
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}
