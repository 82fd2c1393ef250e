package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// TokenPrefix starts every token NewToken makes, so that one pasted into a
// log or a repository is easy to find.
const TokenPrefix = "gleaner_"

// TokenFile is the JSON file of bearer tokens a server accepts: each token
// is kept as its SHA-256, so the file gives nothing away.
//
//	{"tokens": [{"principal": "framework/batch", "sha256": "9f86d0..."}]}
type TokenFile struct {
	Tokens []TokenEntry `json:"tokens"`
}

// TokenEntry is one token: the principal it authenticates and the hex
// SHA-256 of the token.
type TokenEntry struct {
	Principal string `json:"principal"`
	SHA256    string `json:"sha256"`
}

// Tokens are the bearer tokens a server accepts. Only framework and
// operator principals may hold tokens: an agent, or a master, is always
// identified by its certificate.
type Tokens struct {
	byHash map[[sha256.Size]byte]Principal
}

// NewToken returns a new random token and its entry for a token file.
func NewToken(p Principal) (token string, entry TokenEntry, err error) {
	if err := tokenHolder(p); err != nil {
		return "", TokenEntry{}, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", TokenEntry{}, fmt.Errorf("auth: token: %w", err)
	}
	token = TokenPrefix + hex.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, TokenEntry{Principal: p.String(), SHA256: hex.EncodeToString(sum[:])}, nil
}

func tokenHolder(p Principal) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Kind != KindFramework && p.Kind != KindOperator {
		return fmt.Errorf("%w: principal %s: only framework and operator principals hold tokens", ErrInvalid, p)
	}
	return nil
}

// ParseTokens checks a token file's contents.
func ParseTokens(f TokenFile) (*Tokens, error) {
	t := &Tokens{byHash: make(map[[sha256.Size]byte]Principal, len(f.Tokens))}
	for i, e := range f.Tokens {
		p, err := ParsePrincipal(e.Principal)
		if err == nil {
			err = tokenHolder(p)
		}
		if err != nil {
			return nil, fmt.Errorf("tokens[%d].principal: %w", i, err)
		}
		var h [sha256.Size]byte
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("%w: tokens[%d].sha256 %q: want 64 hex digits", ErrInvalid, i, e.SHA256)
		} else {
			copy(h[:], b)
		}
		if q, dup := t.byHash[h]; dup {
			return nil, fmt.Errorf("%w: tokens[%d]: the token of %s is listed again", ErrInvalid, i, q)
		}
		t.byHash[h] = p
	}
	return t, nil
}

// LoadTokens reads a token file.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: tokens: %w", err)
	}
	var f TokenFile
	if err := api.DecodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%w: tokens %s: %w", ErrInvalid, path, err)
	}
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("tokens %s: %w", path, err)
	}
	return t, nil
}

// Lookup returns the principal a token authenticates. It compares hashes,
// so the time it takes says nothing about how much of a guess was right.
func (t *Tokens) Lookup(token string) (Principal, bool) {
	if t == nil || token == "" {
		return Anonymous, false
	}
	p, ok := t.byHash[sha256.Sum256([]byte(token))]
	return p, ok
}
