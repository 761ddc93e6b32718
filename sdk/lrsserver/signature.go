package lrsserver

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// UsageSignature is the usageType of the attachment that signs a
// statement.
const UsageSignature = "http://adlnet.gov/expapi/attachments/signature"

// checkSignatures checks the signature attachments of st against their
// data: a JWS in compact serialization with an RS256, RS384 or RS512
// header whose payload is the statement as it was before it was signed.
// When the header carries an x5c certificate chain, the signature is
// verified with the first certificate's key.
func checkSignatures(st *xapi.Statement, atts map[string]Attachment) error {
	for i, a := range st.Attachments {
		if a.UsageType != UsageSignature {
			continue
		}
		if ct, _, _ := strings.Cut(a.ContentType, ";"); strings.TrimSpace(ct) != "application/octet-stream" {
			return fmt.Errorf("attachments[%d] is a signature, so its contentType must be application/octet-stream, not %q", i, a.ContentType)
		}
		data, ok := atts[strings.ToLower(a.SHA2)]
		if !ok {
			return fmt.Errorf("attachments[%d] is a signature but the request carries no part with its data", i)
		}
		if err := checkJWS(st, i, bytes.TrimSpace(data.Data)); err != nil {
			return fmt.Errorf("attachments[%d]: the signature is invalid: %w", i, err)
		}
	}
	return nil
}

func checkJWS(st *xapi.Statement, sigIndex int, jws []byte) error {
	parts := strings.Split(string(jws), ".")
	if len(parts) != 3 {
		return errors.New("not a JWS in compact serialization (header.payload.signature)")
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return errors.New("the JWS header is not base64url")
	}
	var header struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return errors.New("the JWS header is not JSON")
	}
	var hash crypto.Hash
	switch header.Alg {
	case "RS256":
		hash = crypto.SHA256
	case "RS384":
		hash = crypto.SHA384
	case "RS512":
		hash = crypto.SHA512
	default:
		return fmt.Errorf("algorithm %q is not RS256, RS384 or RS512", header.Alg)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errors.New("the JWS payload is not base64url")
	}
	signed, err := xapi.Parse(payload)
	if err != nil {
		return fmt.Errorf("the JWS payload is not a statement: %s", oneLine(err))
	}
	if !sameSigned(st, sigIndex, signed) {
		return errors.New("the JWS payload is not the statement that carries it")
	}
	if len(header.X5C) == 0 {
		return nil
	}
	der, err := base64.StdEncoding.DecodeString(header.X5C[0])
	if err != nil {
		return errors.New("the x5c certificate is not base64")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("the x5c certificate cannot be read: %v", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the x5c certificate does not hold an RSA key")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("the JWS signature is not base64url")
	}
	h := hash.New()
	h.Write([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, hash, h.Sum(nil), sig); err != nil {
		return errors.New("the signature does not verify with the x5c certificate")
	}
	return nil
}

// sameSigned reports whether the signed statement is st without its
// signature attachment, ignoring the properties the LRS sets.
func sameSigned(st *xapi.Statement, sigIndex int, signed *xapi.Statement) bool {
	a := *st
	a.Attachments = append(append([]xapi.Attachment(nil), st.Attachments[:sigIndex]...), st.Attachments[sigIndex+1:]...)
	b := *signed
	if len(b.Attachments) > 0 {
		var keep []xapi.Attachment
		for _, x := range b.Attachments {
			if x.UsageType != UsageSignature {
				keep = append(keep, x)
			}
		}
		b.Attachments = keep
	}
	if len(a.Attachments) == 0 {
		a.Attachments = nil
	}
	if len(b.Attachments) == 0 {
		b.Attachments = nil
	}
	for _, s := range []*xapi.Statement{&a, &b} {
		s.Stored, s.Authority, s.Version = st.Stored, nil, ""
	}
	if b.ID == "" {
		b.ID = a.ID
	}
	if !strings.EqualFold(a.ID, b.ID) {
		return false
	}
	b.ID = a.ID
	ea, err1 := xapi.Marshal(&a, xapi.V200)
	eb, err2 := xapi.Marshal(&b, xapi.V200)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}
