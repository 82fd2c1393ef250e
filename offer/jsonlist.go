package offer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jsonList reads a JSON list one element at a time, so that an error can
// name the element and its byte offset; encoding/json alone reports neither.
type jsonList struct {
	what string // "resources" or "constraint", for errors
	data []byte
	dec  *json.Decoder
}

// openJSONList consumes the opening '[' or fails with notList.
func openJSONList(what string, data []byte, notList string) (*jsonList, error) {
	l := &jsonList{what: what, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	if t, err := l.dec.Token(); err != nil || t != json.Delim('[') {
		return nil, l.fail(prefix(string(data)), 0, notList)
	}
	return l, nil
}

// more reports whether another element follows.
func (l *jsonList) more() bool { return l.dec.More() }

// offset returns where the next element starts, past any separator.
func (l *jsonList) offset() int {
	off := int(l.dec.InputOffset())
	return off + len(l.data[off:]) - len(bytes.TrimLeft(l.data[off:], ", \t\r\n"))
}

// fail returns a *SyntaxError for tok at off.
func (l *jsonList) fail(tok string, off int, msg string) error {
	return &SyntaxError{What: l.what, Token: tok, Offset: off, Msg: msg}
}

// failJSON reports a decoding error at off.
func (l *jsonList) failJSON(off int, err error) error {
	return l.fail(prefix(string(l.data[off:])), off, "malformed JSON: "+jsonMsg(err))
}

// close consumes the closing ']' and checks that nothing follows.
func (l *jsonList) close() error {
	if _, err := l.dec.Token(); err != nil {
		return l.fail(prefix(string(l.data)), int(l.dec.InputOffset()), "malformed JSON: "+jsonMsg(err))
	}
	if _, err := l.dec.Token(); !errors.Is(err, io.EOF) {
		off := int(l.dec.InputOffset())
		return l.fail(prefix(string(l.data[off:])), off, "trailing data after list")
	}
	return nil
}

// prefix shortens s for quoting in an error.
func prefix(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

// jsonMsg words a decoding error without naming this package's types.
func jsonMsg(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("%s is a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
