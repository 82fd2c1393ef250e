package isolate

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitsValidate(t *testing.T) {
	ok := Limits{CPUs: 1, MemoryBytes: 64 << 20}
	with := func(f func(*Limits)) Limits { l := ok; f(&l); return l }
	for _, tc := range []struct {
		name  string
		l     Limits
		field string // "" when valid
	}{
		{"valid limits pass", ok, ""},
		{"smallest valid limits pass", Limits{CPUs: MinCPUs, MemoryBytes: MinMemoryBytes, MemorySwapBytes: -1}, ""},
		{"negative CPUs are rejected", with(func(l *Limits) { l.CPUs = -0.5 }), "CPUs"},
		{"NaN CPUs are rejected", with(func(l *Limits) { l.CPUs = math.NaN() }), "CPUs"},
		{"infinite CPUs are rejected", with(func(l *Limits) { l.CPUs = math.Inf(1) }), "CPUs"},
		{"zero CPUs are rejected", with(func(l *Limits) { l.CPUs = 0 }), "CPUs"},
		{"CPUs below the 1ms quota minimum are rejected", with(func(l *Limits) { l.CPUs = 0.005 }), "CPUs"},
		{"unknown CPU mode is rejected", with(func(l *Limits) { l.CPUMode = 7 }), "CPUMode"},
		{"zero memory is rejected", with(func(l *Limits) { l.MemoryBytes = 0 }), "MemoryBytes"},
		{"negative memory is rejected", with(func(l *Limits) { l.MemoryBytes = -1 }), "MemoryBytes"},
		{"memory below 32 MiB is rejected", with(func(l *Limits) { l.MemoryBytes = 32<<20 - 1 }), "MemoryBytes"},
		{"swap below -1 is rejected", with(func(l *Limits) { l.MemorySwapBytes = -2 }), "MemorySwapBytes"},
		{"negative pids is rejected", with(func(l *Limits) { l.PidsMax = -1 }), "PidsMax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			if tc.field == "" {
				assert.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"task-1", true}, {"a.b", true}, {"", false}, {".", false}, {"..", false},
		{"a/b", false}, {"../x", false}, {"nul\x00", false}, {string(make([]byte, 256)), false},
	} {
		err := ValidateName(tc.name)
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.name, err)
		if err != nil {
			assert.True(t, errors.Is(err, ErrInvalid))
		}
	}
}

func TestValidateParent(t *testing.T) {
	for in, want := range map[string]string{"/gleaner": "/gleaner", "gleaner": "/gleaner", "/a/b/": "/a/b"} {
		got, err := validateParent(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "/", "/a/../b", "/a//b"} {
		_, err := validateParent(bad)
		assert.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}
}

func TestMinimumsFollowMesos(t *testing.T) {
	assert.Equal(t, uint64(MinShares), shares(0.001), "shares never below 2")
	assert.Equal(t, int64(1000), quotaUs(0.001), "quota never below 1 ms")
	assert.Equal(t, uint64(1024), shares(1))
	assert.Equal(t, int64(250000), quotaUs(2.5))
	assert.Equal(t, 0.01, MinCPUs)
}

func ExampleLimits_Validate() {
	err := Limits{CPUs: -1, MemoryBytes: 64 << 20}.Validate()
	fmt.Println(err)
	var fe *FieldError
	fmt.Println(errors.As(err, &fe), fe.Field, errors.Is(err, ErrInvalid))
	// Output:
	// isolate: invalid CPUs -1: must not be negative
	// true CPUs true
}
