package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/media"
)

// testCA is a throwaway certificate authority, made fresh for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // path of the CA certificate
	dir  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.pem = writePEM(t, ca.dir, name+"-ca.pem", "CERTIFICATE", der)
	return ca
}

// issue signs a leaf certificate and returns the paths of it and its key.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage, ips ...net.IP) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, ca.dir, name+".pem", "CERTIFICATE", der), writePEM(t, ca.dir, name+"-key.pem", "EC PRIVATE KEY", kb)
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsClient trusts ca and presents the client certificate, if given; its
// responses are validated against /openapi.json like every test call.
func tlsClient(t *testing.T, ca *testCA, certFile, keyFile string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		// Sent even when the server names other CAs: the server must refuse it.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: validatingTransport{tr}}
}

// tlsPKI is a CA with a server certificate for 127.0.0.1 and an agent
// client certificate, plus a second, untrusted CA's client certificate.
type tlsPKI struct {
	ca                        *testCA
	serverCert, serverKey     string
	agentCert, agentKey       string
	strangerCert, strangerKey string
}

func newPKI(t *testing.T) tlsPKI {
	ca := newTestCA(t, "ytcaption-test")
	p := tlsPKI{ca: ca}
	p.serverCert, p.serverKey = ca.issue(t, "server", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	p.agentCert, p.agentKey = ca.issue(t, "agent", x509.ExtKeyUsageClientAuth)
	p.strangerCert, p.strangerKey = newTestCA(t, "elsewhere").issue(t, "stranger", x509.ExtKeyUsageClientAuth)
	return p
}

// startTLSReplica runs a replica serving HTTPS that demands agent client
// certificates; its admin client trusts the CA and has no certificate.
func startTLSReplica(t *testing.T, p tlsPKI, cfg server.Config) *replica {
	t.Helper()
	cfg.TLS = server.TLSConfig{CertFile: p.serverCert, KeyFile: p.serverKey, ClientCAFile: p.ca.pem}
	r := startReplica(t, cfg)
	if !strings.HasPrefix(r.url, "https://") {
		t.Fatalf("replica URL %s, want https://", r.url)
	}
	r.admin = api.NewClient(r.url, adminKey, tlsClient(t, p.ca, "", ""))
	return r
}

// TestTLSAgentClientCert: with a client CA configured, the agent protocol
// answers 401 without a client certificate (registration included), while
// the public API works with an API key alone; a certificate from another
// CA fails the handshake; plain HTTP to the TLS port gets no answer.
func TestTLSAgentClientCert(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	r := startTLSReplica(t, p, sqliteBackend().cfg(t))
	ctx := context.Background()

	if _, err := r.admin.ListJobs(ctx, "", 10, ""); err != nil {
		t.Fatalf("GET /v1/jobs with an API key over TLS: %v", err)
	}
	e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reg := api.RegisterRequest{EnrollmentToken: e.Token, Name: "tls", Capabilities: api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}}}

	noCert := api.NewClient(r.url, "", tlsClient(t, p.ca, "", ""))
	_, err = noCert.Register(ctx, reg)
	wantErr(t, err, http.StatusUnauthorized, api.CodeUnauthorized)

	_, err = api.NewClient(r.url, "", tlsClient(t, p.ca, p.strangerCert, p.strangerKey)).Register(ctx, reg)
	if s, _ := apiErr(err); err == nil || s != 0 {
		t.Fatalf("register with a certificate of an unknown CA: %v, want a failed handshake", err)
	}

	withCert := api.NewClient(r.url, "", tlsClient(t, p.ca, p.agentCert, p.agentKey))
	got, err := withCert.Register(ctx, reg)
	if err != nil {
		t.Fatalf("register with a client certificate: %v", err)
	}
	// A valid agent token without the certificate is still refused.
	_, err = noCert.WithToken(got.Token).Lease(ctx, api.LeaseRequest{Max: 1})
	wantErr(t, err, http.StatusUnauthorized, api.CodeUnauthorized)
	_, err = noCert.WithToken(got.Token).Renew(ctx)
	wantErr(t, err, http.StatusUnauthorized, api.CodeUnauthorized)
	agent := withCert.WithToken(got.Token)
	if _, err := agent.Lease(ctx, api.LeaseRequest{Max: 1}); err != nil {
		t.Fatalf("lease with a client certificate: %v", err)
	}
	if _, err := agent.Renew(ctx); err != nil {
		t.Fatalf("renew with a client certificate: %v", err)
	}

	// Plain HTTP to the TLS port is not served.
	plain := strings.Replace(r.url, "https://", "http://", 1)
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(plain + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP to the TLS port answered %d: %s", resp.StatusCode, body)
		}
	}
}

// TestTLSWorker: a real agent, trusting the private CA and presenting its
// client certificate, registers over HTTPS, renews its short-lived token
// while it works (saving each renewal), and completes an uploaded job whose
// media and result travel through the replica's own HTTPS blob URLs.
func TestTLSWorker(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cfg := sqliteBackend().cfg(t)
	cfg.AgentTokenTTL = 4 * time.Second
	r := startTLSReplica(t, p, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	w, err := worker.New(ctx, worker.Config{Server: r.url, Token: e.Token, Name: "tls-agent", Engine: "pocketsphinx",
		WorkDir: t.TempDir(), StateDir: state, Grace: time.Second,
		CACert: p.ca.pem, ClientCert: p.agentCert, ClientKey: p.agentKey}, testLogger(t))
	if err != nil {
		t.Fatalf("agent: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The credential saved at registration is replaced by renewals.
	first := waitCredential(t, state, "")
	renewed := waitCredential(t, state, first.Token)
	if renewed.AgentID != first.AgentID || !renewed.ExpiresAt.After(first.ExpiresAt) {
		t.Fatalf("renewed credential %s expiring %v; first %s expiring %v", renewed.AgentID, renewed.ExpiresAt, first.AgentID, first.ExpiresAt)
	}

	wav := media.Speech(t, "Hello world. This is a test.")
	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j, err := r.admin.UploadJob(ctx, api.JobRequest{Language: "en"}, "speech.wav", f, "")
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 5*time.Minute)
	defer waitCancel()
	final, err := r.admin.WaitJob(waitCtx, j.ID, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if final.Status != api.JobSucceeded {
		t.Fatalf("job %s: %s %+v", j.ID, final.Status, final.Error)
	}
	// One agent throughout: renewal never fell back to enrolling again.
	agents, err := r.admin.ListAgents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(agents.Agents) != 1 || agents.Agents[0].ID != first.AgentID {
		t.Fatalf("agents: %+v, want only %s", agents.Agents, first.AgentID)
	}
}

type savedCredential struct {
	AgentID   string    `json:"agent_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// waitCredential waits until the agent's saved credential holds a token
// other than not, and returns it.
func waitCredential(t *testing.T, dir, not string) savedCredential {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var c savedCredential
		if b, err := os.ReadFile(filepath.Join(dir, "credential.json")); err == nil && json.Unmarshal(b, &c) == nil && c.Token != "" && c.Token != not {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no new credential saved in %s", dir)
	return savedCredential{}
}
