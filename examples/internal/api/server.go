package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// RequestError is a request refused for its body or its Content-Type, before
// a handler looked at what it asks. It matches ErrInvalid with errors.Is and
// unwraps to the cause (for example the error of a json.Unmarshaler, such as
// offer.ErrInvalid from a constraint).
type RequestError struct {
	Code   int    // the status to answer: 400, 413 or 415
	Field  string // the JSON field at fault ("tasks.state"), or ""
	Reason string // what is wrong, without the field
	Err    error  // the cause, if any
}

func (e *RequestError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
	}
	return e.Reason
}

func (e *RequestError) Unwrap() error { return e.Err }

// Is makes every RequestError match ErrInvalid.
func (e *RequestError) Is(target error) bool { return target == ErrInvalid }

// DecodeRequest reads r's body as exactly one JSON object into v, by the
// rules of ReadBody and DecodeStrict. Its error is a *RequestError.
func DecodeRequest(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := ReadBody(w, r)
	if err != nil {
		return err
	}
	return DecodeStrict(data, v)
}

// ReadBody reads the body of a write request: its Content-Type must be
// application/json (parameters such as charset allowed; else 415) and it
// may be at most MaxBodyBytes long (else 413, and the connection is closed
// after the answer). Its error is a *RequestError.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, &RequestError{Code: http.StatusUnsupportedMediaType, Reason: "content type missing: want " + ContentTypeJSON}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != ContentTypeJSON {
		return nil, &RequestError{Code: http.StatusUnsupportedMediaType, Reason: fmt.Sprintf("content type %q: want %s", ct, ContentTypeJSON)}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &RequestError{Code: http.StatusRequestEntityTooLarge, Reason: fmt.Sprintf("request body larger than %d bytes", mbe.Limit), Err: err}
		}
		return nil, &RequestError{Code: http.StatusBadRequest, Reason: "reading the request body: " + err.Error(), Err: err}
	}
	return data, nil
}

// DecodeStrict decodes data, which must be exactly one JSON object, into v:
// unknown fields, a wrong type, an empty body and anything after the object
// are refused with a *RequestError (400) that names the field where there is
// one.
func DecodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &RequestError{Code: http.StatusBadRequest, Reason: "empty body: want a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &RequestError{Code: http.StatusBadRequest, Reason: fmt.Sprintf("malformed JSON: data after the object ending at offset %d", end)}
	}
	return nil
}

// jsonError words encoding/json's errors for the caller.
func jsonError(err error) *RequestError {
	bad := &RequestError{Code: http.StatusBadRequest, Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		bad.Reason = "malformed JSON: truncated"
	case errors.As(err, &se):
		bad.Reason = fmt.Sprintf("malformed JSON at offset %d: %v", se.Offset, err)
	case errors.As(err, &te) && te.Field == "":
		bad.Reason = fmt.Sprintf("malformed JSON: want an object, got JSON %s", te.Value)
	case errors.As(err, &te):
		bad.Field, bad.Reason = te.Field, fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one.
		bad.Field, bad.Reason = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field"
	default:
		bad.Reason = "malformed JSON: " + err.Error()
	}
	return bad
}

// WriteJSON answers with code and v as JSON. v is encoded before anything
// is written, so a value that cannot be encoded is a 500 with an
// ErrorResponse rather than half a body.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(ErrorResponse{Error: err.Error()})
	}
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes()) // the client went away; nothing to do
}

// WriteError answers with an ErrorResponse holding err's text. The status
// is code, unless err holds a *RequestError, whose Code it is.
func WriteError(w http.ResponseWriter, code int, err error) {
	var re *RequestError
	if errors.As(err, &re) {
		code = re.Code
	}
	WriteJSON(w, code, ErrorResponse{Error: err.Error()})
}
