package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// pki is a CA with a server and a client certificate, as PEM files.
type pki struct {
	caCert, serverKey, serverCert, clientKey, clientCert string
}

// newPKI writes a fresh CA, server and client key pair into dir.
func newPKI(t testing.TB, dir string) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := pki{caCert: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.caCert, "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (keyFile, certFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile, certFile = filepath.Join(dir, name+"-key.pem"), filepath.Join(dir, name+"-cert.pem")
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
		writePEM(t, certFile, "CERTIFICATE", der)
		return keyFile, certFile
	}
	p.serverKey, p.serverCert = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientKey, p.clientCert = issue("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPSSLWithCertificates runs ovsdb-client over pssl against ovsdb-server
// and all-in-one, both given the same PEM files, and compares the outputs.
func TestPSSLWithCertificates(t *testing.T) {
	dir := e2etest.ShortDir(t)
	p := newPKI(t, dir)
	tlsArgs := []string{"--private-key=" + p.serverKey, "--certificate=" + p.serverCert, "--ca-cert=" + p.caCert}

	refPort := e2etest.FreePort(t)
	refserver.Start(t, refserver.Options{
		Schemas:   []string{nbSchema},
		Clustered: true,
		ExtraArgs: append([]string{fmt.Sprintf("--remote=pssl:%d:127.0.0.1", refPort)}, tlsArgs...),
	})
	port := e2etest.FreePort(t)
	startAllInOne(t, []string{nbSchema}, append([]string{"--remote", "pssl:" + strconv.Itoa(port) + ":127.0.0.1"}, tlsArgs...)...)

	client := func(addr string, args ...string) string {
		t.Helper()
		full := append([]string{"--private-key=" + p.clientKey, "--certificate=" + p.clientCert, "--ca-cert=" + p.caCert}, args[0], addr)
		full = append(full, args[1:]...)
		out, err := refserver.RunClient(t.Context(), e2etest.ClientTimeout, "ovsdb-client", full...)
		if err != nil {
			return "ERROR: " + exitSummary(err)
		}
		return normalize(out, normSortLines)
	}
	steps := [][]string{
		{"list-dbs"},
		{"get-schema-version", "OVN_Northbound"},
		{"transact", `["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"over-tls"}}]`},
		{"dump", "OVN_Northbound", "Logical_Switch", "name"},
	}
	refAddr := fmt.Sprintf("ssl:127.0.0.1:%d", refPort)
	addr := fmt.Sprintf("ssl:127.0.0.1:%d", port)
	for _, s := range steps {
		want, got := client(refAddr, s...), client(addr, s...)
		if want != got {
			t.Errorf("ovsdb-client %s over ssl:\n--- ovsdb-server:\n%s\n--- ovsdb-etcd:\n%s", s[0], want, got)
		}
		if got == "" || len(got) > 6 && got[:6] == "ERROR:" {
			t.Errorf("ovsdb-client %s over ssl to ovsdb-etcd: %q", s[0], got)
		}
	}
}
