package auth

import "errors"

// Errors of the package; the wrapping messages name the file, field or
// principal at fault.
var (
	// ErrInvalid is bad input: a malformed principal, policy, token file
	// or certificate file.
	ErrInvalid = errors.New("auth: invalid")
	// ErrUnauthenticated is a request without a valid credential.
	ErrUnauthenticated = errors.New("auth: no valid credential")
	// ErrDenied is an action no grant allows; see DeniedError.
	ErrDenied = errors.New("auth: denied")
)
