package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// tokenContext separates session tokens from anything else the secret may
// ever sign.
const tokenContext = "moodgate/session/v1:"

// SignSession returns the session token: hex HMAC-SHA256 of the session id
// under the server secret.
func SignSession(secret, sid string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(tokenContext + sid))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySession reports whether token was issued for sid, in constant time.
func VerifySession(secret, sid, token string) bool {
	want := SignSession(secret, sid)
	return hmac.Equal([]byte(want), []byte(token))
}

// NewSessionID returns a random 128-bit session id (32 hex characters).
func NewSessionID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("moodgate: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
