// Package deploy holds the container image (Dockerfile) and the Kubernetes
// manifests (k8s/) of ovsdb-etcd, and a test that checks them statically:
// the YAML parses, the objects carry the fields Kubernetes and the other
// objects rely on, Services select workloads and ports that exist, every
// ovsdb-etcd flag in a manifest exists in the binary built from
// cmd/ovsdb-etcd, and etcd's limits match the txnengine's.
//
// It has no Go code besides this test; nothing may import it.
package deploy
