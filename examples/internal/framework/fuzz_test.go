package framework

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gleaner/gleaner/offer"
)

// FuzzDecodeApp feeds arbitrary bytes to the app reader. It must never
// panic; it must either refuse with errInvalid or return an app that is
// already normal, survives a JSON round trip unchanged, and can be
// scheduled.
func FuzzDecodeApp(f *testing.F) {
	files, _ := filepath.Glob("testdata/apps/*.json")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"id":"a","cmd":"x","constraints":[["rack","GROUP_BY","3"],["hostname","UNIQUE"],["zone","LIKE","e.*"]]}`,
		`{"id":"/a/b.c","args":["x"],"cpus":0.001,"mem":0,"instances":0,"backoffFactor":100,"backoffSeconds":86400}`,
		`{"id":"a","cmd":"x","env":{"A":"b"},"labels":{"k":"v"},"fetch":[{"uri":"/abs","destPath":"a/b"}]}`,
		`{"id":"a","cmd":"x","container":{"type":"MESOS","rootfs":{"base":"busybox"}}}`,
		`{"id":"a","cmd":"x"} trailing`, `[]`, `null`, `{"id":1}`, `{"constraints":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeApp(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, errInvalid) {
				t.Fatalf("error %v does not wrap errInvalid", err)
			}
			return
		}
		again := a
		if err := again.normalize(); err != nil || !sameDefinition(a, again) {
			t.Fatalf("a decoded app is not normal: %v\n%+v\n%+v", err, a, again)
		}
		enc, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		b, err := DecodeApp(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("its own encoding is refused: %v\n%s", err, enc)
		}
		if !sameDefinition(a, b) {
			t.Fatalf("round trip changed the app:\n%+v\n%+v", a, b)
		}
		res, err := a.resources()
		if err != nil {
			t.Fatalf("resources of a valid app: %v", err)
		}
		s := newScheduler(schedulerConfig{})
		s.PutApp(a)
		all := offer.MustParseResources("cpus:64;mem:65536;disk:65536")
		plan := s.ResourceOffers([]offer.Offer{{ID: "o1", AgentID: "a1", Hostname: "h1",
			Attributes: map[string]string{"rack": "r1", "zone": "east"}, Resources: all}})
		for _, acc := range plan.Accept {
			for _, ti := range acc.Tasks {
				got, err := offer.ParseResources(ti.Resources)
				if err != nil || !got.Equal(res) {
					t.Fatalf("launch resources %q (%v), want %s", ti.Resources, err, res)
				}
			}
		}
		if _, err := s.App(a.ID); err != nil {
			t.Fatal(err)
		}
	})
}
