package frontend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// testPKI is a CA with one server and one client certificate, as PEM
// files in a temp dir.
type testPKI struct {
	caCert, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
	clientPair                                           tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{caCert: write("ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) (certPath, keyPath string) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, cerr := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if cerr != nil {
			t.Fatal(cerr)
		}
		kder, kerr := x509.MarshalPKCS8PrivateKey(k)
		if kerr != nil {
			t.Fatal(kerr)
		}
		return write(cn+"-cert.pem", "CERTIFICATE", der), write(cn+"-key.pem", "PRIVATE KEY", kder)
	}
	p.serverCert, p.serverKey = issue(2, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue(3, "client", x509.ExtKeyUsageClientAuth)
	if p.clientPair, err = tls.LoadX509KeyPair(p.clientCert, p.clientKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTCPAndSSLRemotes serves ptcp and pssl with generated certificates
// and talks to them with the jsonrpc client and the real ovsdb-client.
func TestTCPAndSSLRemotes(t *testing.T) {
	pki := newTestPKI(t)
	env := startServer(t, func(c *Config) {
		c.Remotes = append(c.Remotes, "ptcp:0:127.0.0.1", "pssl:0:127.0.0.1")
		c.PrivateKey, c.Certificate, c.CACert = pki.serverKey, pki.serverCert, pki.caCert
	})
	addrs := env.srv.Addrs()
	if len(addrs) != 3 {
		t.Fatalf("Addrs() = %v", addrs)
	}
	tcpAddr, sslAddr := "tcp:"+addrs[1].String(), "ssl:"+addrs[2].String()

	call(t, dial(t, tcpAddr, nil), "list_dbs")
	c := dial(t, sslAddr, nil, jsonrpcTLS(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.clientPair}, ServerName: "127.0.0.1"}))
	call(t, c, "list_dbs")

	for _, args := range [][]string{
		{"list-dbs", tcpAddr},
		{"--private-key=" + pki.clientKey, "--certificate=" + pki.clientCert, "--ca-cert=" + pki.caCert, "list-dbs", sslAddr},
	} {
		out, err := refserver.RunClient(t.Context(), testTimeout, "ovsdb-client", args...)
		if err != nil {
			t.Fatalf("ovsdb-client %v: %v\n%s", args, err, out)
		}
		if got := strings.Fields(out); strings.Join(got, ",") != "T,_Server" {
			t.Fatalf("ovsdb-client %v = %q", args, out)
		}
	}

	// Without a client certificate the handshake fails.
	conn, err := tls.Dial("tcp", addrs[2].String(), &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"})
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(testTimeout))
		_, err = conn.Write([]byte(`{"method":"list_dbs","params":[],"id":1}`))
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
		_ = conn.Close()
	}
	if err == nil {
		t.Fatal("pssl accepted a client without a certificate")
	}
}
