package sdk

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// Mutual TLS between host and plugin.
//
// go-plugin's AutoMTLS makes an ECDSA P-521 key and certificate on each side,
// one after the other, which costs most of a plugin's start. Instead the
// host makes the key pairs: its own once per [Launcher] (reused by every
// launch), and the plugin's anew for each launch. Both are ECDSA P-256:
// generating and using a P-256 key takes tens of microseconds even in a
// process that has just started, because its tables are built into the
// binary, whereas Ed25519 first computes its tables at run time (about a
// millisecond in a fresh plugin process, which only ever signs and verifies
// once). The host keeps the plugin's private key off the command line and
// out of the environment: the key travels in the first line of the
// plugin's standard input, a pipe only the host and the plugin hold. Each
// side then trusts exactly the other's certificate (pinned, no shared
// authority), and the connection is mutually authenticated as with
// AutoMTLS. A plugin built with an older SDK ignores the line, makes its
// own certificate as AutoMTLS does and announces it in the handshake, which
// go-plugin then pins instead; both ways stay mutual.

// tlsLinePrefix starts the line that carries the TLS material to a plugin.
const tlsLinePrefix = "lrsbridge-tls1 "

// maxTLSLine bounds that line.
const maxTLSLine = 16 << 10

// keyMaker makes the private key of a certificate.
type keyMaker func() (crypto.Signer, error)

// newP256Key makes an ECDSA P-256 key, the kind of every certificate of a
// launch.
func newP256Key() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// hostIdentity is the host's key and certificate, made once and used for
// every launch.
type hostIdentity struct {
	cert   tls.Certificate
	b64    string   // the certificate, DER in base64, for the TLS line
	pem    []byte   // the certificate, PEM, for PLUGIN_CLIENT_CERT
	newKey keyMaker // makes the plugins' keys
}

// newHostIdentity makes the host's key pair and certificate with newKey,
// which also makes the plugins' keys; nil means newP256Key.
func newHostIdentity(newKey keyMaker) (*hostIdentity, error) {
	if newKey == nil {
		newKey = newP256Key
	}
	der, key, err := selfSigned(newKey)
	if err != nil {
		return nil, err
	}
	return &hostIdentity{
		cert:   tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		b64:    base64.RawStdEncoding.EncodeToString(der),
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		newKey: newKey,
	}, nil
}

// launchTLS is the TLS material of one launch. The plugin's key pair and
// certificate are made concurrently with the start of the process (see
// startLaunchTLS): host is complete, and line set, once wait returned nil,
// which the process runner does before go-plugin dials.
type launchTLS struct {
	host *tls.Config // the host's side; go-plugin dials with it
	cert []byte      // the host's certificate, PEM, for PLUGIN_CLIENT_CERT

	done chan struct{} // closed once line and err are set
	line []byte        // what the plugin reads from its standard input
	err  error
}

// startLaunchTLS starts making the plugin's key pair and certificate for
// one launch of a host with identity id, and the configurations that pin
// each side to the other. The goroutine it starts ends by itself, in well
// under a millisecond.
func startLaunchTLS(id *hostIdentity) *launchTLS {
	l := &launchTLS{host: &tls.Config{}, cert: id.pem, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = l.make(id)
	}()
	return l
}

// wait returns the line for the plugin's standard input once the plugin's
// key pair is made. Then l.host is complete.
func (l *launchTLS) wait() ([]byte, error) {
	<-l.done
	return l.line, l.err
}

func (l *launchTLS) make(id *hostIdentity) error {
	plugCert, plugKey, err := selfSigned(id.newKey)
	if err != nil {
		return err
	}
	plugParsed, err := x509.ParseCertificate(plugCert)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(plugKey)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(plugParsed)
	enc := base64.RawStdEncoding
	l.line = []byte(tlsLinePrefix + id.b64 + " " + enc.EncodeToString(plugCert) + " " + enc.EncodeToString(keyDER) + "\n")
	l.host.Certificates = []tls.Certificate{id.cert}
	l.host.RootCAs = pool
	l.host.ServerName = "localhost"
	l.host.MinVersion = tls.VersionTLS12
	// The connection never leaves the machine: the cheapest key exchange
	// will do.
	l.host.CurvePreferences = []tls.CurveID{tls.X25519}
	return nil
}

// selfSigned makes a key with newKey and a self-signed certificate for
// "localhost", valid for both ends of a connection, in DER.
func selfSigned(newKey keyMaker) ([]byte, crypto.Signer, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"lrsbridge"}},
		DNSNames:              []string{"localhost"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(100 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

// readTLSLine reads the TLS line from r (the plugin's standard input) and
// returns the plugin's server configuration: its own certificate, and the
// host's as the only client certificate it accepts.
func readTLSLine(r *bufio.Reader) (*tls.Config, error) {
	var line []byte
	for {
		part, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, fmt.Errorf("read TLS line: %w", err)
		}
		line = append(line, part...)
		if len(line) > maxTLSLine {
			return nil, errors.New("read TLS line: too long")
		}
		if !isPrefix {
			break
		}
	}
	rest, ok := strings.CutPrefix(string(line), tlsLinePrefix)
	if !ok {
		return nil, errors.New("read TLS line: unknown format")
	}
	f := strings.Fields(rest)
	if len(f) != 3 {
		return nil, errors.New("read TLS line: want 3 fields")
	}
	var der [3][]byte
	for i, s := range f {
		b, err := base64.RawStdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("read TLS line: field %d: %w", i+1, err)
		}
		der[i] = b
	}
	hostCert, err := x509.ParseCertificate(der[0])
	if err != nil {
		return nil, fmt.Errorf("read TLS line: host certificate: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der[2])
	if err != nil {
		return nil, fmt.Errorf("read TLS line: key: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(hostCert)
	return &tls.Config{
		Certificates:     []tls.Certificate{{Certificate: [][]byte{der[1]}, PrivateKey: key}},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        pool,
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}, nil
}

// discard reads r to its end; it returns when the writing end is closed.
func discard(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
