package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fullConfig() Config {
	return Config{
		Root: "/srv/tasks/t1/root", Mode: ModePivotRoot, Args: []string{"/bin/sh", "-c", "echo é"}, Env: []string{"PATH=/bin", "EMPTY="},
		Dir: "/work", UID: 1 << 31, GID: 65534, Groups: []uint32{4, 27}, Capabilities: []int{0, 1, 10}, LastCapability: 40,
		Rlimits: []Rlimit{{Resource: 7, Cur: 1024, Max: 1<<64 - 1}}, Pdeathsig: 9, Parent: 4242, Hostname: "gleaner",
		CgroupNS: true, LoopbackUp: true, UserNS: true, Init: true,
		MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys", "/proc/bus"},
		Devices: []Device{{"null", 1, 3}, {"tty", 5, 0}}, Seccomp: [][]byte{{0x20, 0, 0, 0, 4, 0, 0, 0}, {}},
	}
}

func TestConfigRoundTrip(t *testing.T) {
	for name, cfg := range map[string]Config{"every field set": fullConfig(), "zero": {}} {
		t.Run(name, func(t *testing.T) {
			rec := AppendConfig(nil, &cfg)
			body, err := readRecord(bufio.NewReader(bytes.NewReader(rec)))
			require.NoError(t, err)
			got, err := decodeConfig(body)
			require.NoError(t, err)
			if len(cfg.Seccomp) > 1 {
				cfg.Seccomp[1] = []byte{} // an empty filter comes back empty, not nil
			}
			assert.Equal(t, cfg, got)
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	msgs := []Message{
		{Error: "mount /proc: permission denied", Step: "mount /proc", NotFound: true},
		{Started: 1},
		{Exited: &Exit{Code: -1, Signal: 15}},
		{Exited: &Exit{Code: 3}},
	}
	var stream []byte
	for _, m := range msgs {
		stream = AppendMessage(stream, m)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, want := range msgs {
		got, err := ReadMessage(r)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ReadMessage(r)
	assert.ErrorIs(t, err, io.EOF, "the end of the stream between records")
}

func TestTruncatedRecordsAreRefused(t *testing.T) {
	cfg := fullConfig()
	rec := AppendConfig(nil, &cfg)
	for n := 1; n < len(rec); n++ {
		body, err := readRecord(bufio.NewReader(bytes.NewReader(rec[:n])))
		if err == nil {
			t.Fatalf("a record cut at %d of %d bytes was read whole: %d bytes", n, len(rec), len(body))
		}
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", n)
	}
	body, err := readRecord(bufio.NewReader(bytes.NewReader(rec)))
	require.NoError(t, err)
	for n := 0; n < len(body); n++ {
		_, err := decodeConfig(body[:n])
		assert.Error(t, err, "a body cut at %d of %d bytes", n, len(body))
	}
	_, err = decodeConfig(append(body, 0))
	assert.ErrorContains(t, err, "1 bytes after the last field")
	_, err = decodeMessage([]byte{9})
	assert.ErrorContains(t, err, "unknown message kind 9")
}

func TestOversizedRecordIsRefused(t *testing.T) {
	rec := (&encoder{}).bytesOf(maxRecord + 1)
	_, err := readRecord(bufio.NewReader(bytes.NewReader(rec)))
	assert.ErrorContains(t, err, "more than")
	assert.False(t, errors.Is(err, io.EOF))
}

// bytesOf is a record header announcing n bytes, without them.
func (e *encoder) bytesOf(n uint64) []byte {
	e.uint(n)
	return e.b
}

func FuzzDecodeConfig(f *testing.F) {
	cfg := fullConfig()
	rec := AppendConfig(nil, &cfg)
	f.Add(rec)
	f.Add(AppendMessage(nil, Message{Started: 7}))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := readRecord(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if cfg, err := decodeConfig(body); err == nil {
			// What decodes encodes to a record that decodes the same.
			again, err := readRecord(bufio.NewReader(bytes.NewReader(AppendConfig(nil, &cfg))))
			require.NoError(t, err)
			cfg2, err := decodeConfig(again)
			require.NoError(t, err)
			assert.Equal(t, cfg, cfg2)
		}
		if m, err := decodeMessage(body); err == nil {
			m2, err := ReadMessage(bufio.NewReader(bytes.NewReader(AppendMessage(nil, m))))
			require.NoError(t, err)
			assert.Equal(t, m, m2)
		}
	})
}
