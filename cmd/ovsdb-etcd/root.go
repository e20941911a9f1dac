package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "ovsdb-etcd",
		Short:         "An OVSDB server (RFC 7047, ovsdb-server(7)) whose data lives in etcd",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newAllInOneCmd(), newTxnEngineCmd(), newMonitorHubCmd(), newFrontendCmd())
	return root
}
