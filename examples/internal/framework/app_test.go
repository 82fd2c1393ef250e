package framework

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/offer"
)

func TestDecodeAppAppliesMarathonDefaults(t *testing.T) {
	a, err := DecodeApp(strings.NewReader(`{"id":"sleeper","cmd":"sleep 10"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := App{
		ID: "/sleeper", Cmd: "sleep 10", Cpus: 1, Mem: 128, Instances: 1,
		BackoffSeconds: 1, BackoffFactor: 1.15, MaxLaunchDelaySeconds: 300,
		UpgradeStrategy: &UpgradeStrategy{MinimumHealthCapacity: ptr(1.0), MaximumOverCapacity: ptr(1.0)},
		KillSelection:   YoungestFirst,
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("got %+v\nwant %+v", a, want)
	}
}

func TestLoadAppsReadsMarathonExamples(t *testing.T) {
	apps, err := loadApps("testdata/apps")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 3 {
		t.Fatalf("loaded %d apps, want 3 (README.txt ignored)", len(apps))
	}
	render, sleeper, web := apps[0], apps[1], apps[2]
	if render.ID != "/render" || !reflect.DeepEqual(render.Args, []string{"/bin/render", "--shard", "all"}) || render.Instances != 3 {
		t.Fatalf("render = %+v", render)
	}
	var cs []string
	for _, c := range render.Constraints {
		cs = append(cs, c.String())
	}
	if got := strings.Join(cs, " "); got != "ssd:IS:true zone:LIKE:east-.* rack:MAX_PER:2" {
		t.Fatalf("render constraints = %s", got)
	}
	if len(render.Fetch) != 2 || !render.Fetch[0].Extract || !render.Fetch[0].Cache || !render.Fetch[1].Executable || render.Fetch[1].DestPath != "bin/render" {
		t.Fatalf("render fetch = %+v", render.Fetch)
	}
	if r := render.Container.Rootfs; r.Base != "debian" || r.BaseVersion != "12.5" || !strings.HasSuffix(r.Image, "render-1.4.tar.gz") {
		t.Fatalf("render rootfs = %+v", r)
	}
	if sleeper.ID != "/sleeper" || sleeper.Cpus != 1 {
		t.Fatalf("sleeper = %+v", sleeper)
	}
	if web.ID != "/product/web" || web.Instances != 6 || web.Disk != 64 || web.BackoffFactor != 1.5 {
		t.Fatalf("web = %+v", web)
	}
	if web.Constraints[0].Op != offer.GroupBy || web.Constraints[0].Field != "rack" || web.Constraints[0].Value != "3" {
		t.Fatalf("web GROUP_BY = %+v", web.Constraints[0])
	}
	// Marathon's older uris become fetch entries; archives are extracted.
	wantFetch := []Fetch{{URI: "https://example.com/site.tar.gz", Extract: true}, {URI: "https://example.com/config.json"}}
	if !reflect.DeepEqual(web.Fetch, wantFetch) || web.URIs != nil {
		t.Fatalf("web fetch = %+v, uris = %v", web.Fetch, web.URIs)
	}
	res, err := web.resources()
	if err != nil || res.String() != "cpus:0.5;disk:64;mem:256" {
		t.Fatalf("web resources = %v, %v", res, err)
	}
}

func TestAppJSONRoundTrips(t *testing.T) {
	apps, err := loadApps("testdata/apps")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		data, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeApp(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: decoding its own encoding: %v\n%s", a.ID, err, data)
		}
		if !sameDefinition(a, b) {
			t.Fatalf("%s: round trip changed it:\n%+v\n%+v", a.ID, a, b)
		}
	}
}

func TestDecodeAppRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		field string // the field the error must name; "" for whole-body errors
		in    string // text the message must contain
	}{
		{"empty body", ``, "", "empty body"},
		{"malformed JSON", `{"id":"a",`, "", "truncated"},
		{"syntax error", `{"id":"a" "cmd":"x"}`, "", "malformed JSON at offset"},
		{"not an object", `[1,2]`, "", "want an object, got JSON array"},
		{"trailing data", `{"id":"a","cmd":"x"} {}`, "", "data after the object"},
		{"unknown field", `{"id":"a","cmd":"x","healthCheck":[]}`, "healthCheck", "unknown field"},
		{"unknown nested field", `{"id":"a","cmd":"x","container":{"rootfs":{"tag":"x"}}}`, "tag", "unknown field"},
		{"docker refused by name", `{"id":"a","cmd":"x","container":{"docker":{"image":"x"}}}`, "container.docker", "Docker is not supported"},
		{"readiness checks refused by name", `{"id":"a","cmd":"x","readinessChecks":[{"name":"r"}]}`, "readinessChecks", "not supported"},
		{"health check port index out of range", `{"id":"a","cmd":"x","healthChecks":[{"protocol":"HTTP"}]}`, "healthChecks[0].portIndex", "has 0 ports"},
		{"command check without command", `{"id":"a","cmd":"x","healthChecks":[{"protocol":"COMMAND"}]}`, "healthChecks[0].command.value", "required"},
		{"unknown check protocol", `{"id":"a","cmd":"x","healthChecks":[{"protocol":"UDP"}]}`, "healthChecks[0].protocol", "must be"},
		{"min health above one", `{"id":"a","cmd":"x","upgradeStrategy":{"minimumHealthCapacity":1.5}}`, "upgradeStrategy.minimumHealthCapacity", "between 0 and 1"},
		{"kill selection", `{"id":"a","cmd":"x","killSelection":"RANDOM"}`, "killSelection", "YOUNGEST_FIRST"},
		{"port out of range", `{"id":"a","cmd":"x","portDefinitions":[{"port":70000}]}`, "portDefinitions[0].port", "between 0 and 65535"},
		{"requirePorts with dynamic port", `{"id":"a","cmd":"x","requirePorts":true,"ports":[0]}`, "ports[0].port", "requirePorts"},
		{"ports and portDefinitions", `{"id":"a","cmd":"x","ports":[1],"portDefinitions":[{"port":2}]}`, "ports", "not both"},
		{"self dependency", `{"id":"/g/a","cmd":"x","dependencies":["a"]}`, "dependencies[0]", "itself"},
		{"two roles", `{"id":"a","cmd":"x","acceptedResourceRoles":["web","batch"]}`, "acceptedResourceRoles", "one role"},
		{"missing id", `{"cmd":"x"}`, "id", "required"},
		{"uppercase id", `{"id":"/Web","cmd":"x"}`, "id", `segment "Web"`},
		{"id with dot-dot", `{"id":"/a/../b","cmd":"x"}`, "id", `segment ".."`},
		{"id only slashes", `{"id":"//","cmd":"x"}`, "id", "empty path"},
		{"no command", `{"id":"a"}`, "cmd", "one of cmd or args"},
		{"cmd and args", `{"id":"a","cmd":"x","args":["y"]}`, "args", "not both"},
		{"cpus as text", `{"id":"a","cmd":"x","cpus":"two"}`, "cpus", "want float64, got JSON string"},
		{"negative mem", `{"id":"a","cmd":"x","mem":-1}`, "mem", "non-negative"},
		{"negative priority", `{"id":"a","cmd":"x","priority":-1}`, "priority", "between 0 and 1000000"},
		{"priority label not a number", `{"id":"a","cmd":"x","labels":{"GLEANER_PRIORITY":"high"}}`, "labels.GLEANER_PRIORITY", "whole number"},
		{"priority and label disagree", `{"id":"a","cmd":"x","priority":3,"labels":{"GLEANER_PRIORITY":"4"}}`, "labels.GLEANER_PRIORITY", "give one"},
		{"huge disk", `{"id":"a","cmd":"x","disk":1e300}`, "disk", "non-negative"},
		{"no resources", `{"id":"a","cmd":"x","cpus":0,"mem":0}`, "cpus", "some cpus or mem"},
		{"negative instances", `{"id":"a","cmd":"x","instances":-1}`, "instances", "between 0 and"},
		{"too many instances", `{"id":"a","cmd":"x","instances":10001}`, "instances", "between 0 and"},
		{"fractional instances", `{"id":"a","cmd":"x","instances":1.5}`, "instances", "want int"},
		{"unknown operator", `{"id":"a","cmd":"x","constraints":[["rack","UNIQUE"],["rack","NEAR","x"]]}`, "constraints[1]", "NEAR"},
		{"constraint not a list", `{"id":"a","cmd":"x","constraints":["rack:UNIQUE"]}`, "constraints[0]", "must be a list"},
		{"null constraint", `{"id":"a","cmd":"x","constraints":[null]}`, "constraints[0]", "must be a list"},
		{"GROUP_BY count not a number", `{"id":"a","cmd":"x","constraints":[["rack","GROUP_BY","three"]]}`, "constraints[0]", "three"},
		{"fetch and uris", `{"id":"a","cmd":"x","uris":["file:///a"],"fetch":[{"uri":"file:///b"}]}`, "uris", "not both"},
		{"fetch scheme", `{"id":"a","cmd":"x","fetch":[{"uri":"ftp://h/a"}]}`, "fetch[0].uri", `scheme "ftp"`},
		{"fetch escapes sandbox", `{"id":"a","cmd":"x","fetch":[{"uri":"file:///a","destPath":"../../etc/passwd"}]}`, "fetch[0].destPath", "inside the sandbox"},
		{"env value not text", `{"id":"a","cmd":"x","env":{"PASSWORD":{"secret":"pw"}}}`, "env", "want string"},
		{"env name with =", `{"id":"a","cmd":"x","env":{"A=B":"c"}}`, "env", "without '='"},
		{"label key with space", `{"id":"a","cmd":"x","labels":{"a b":"c"}}`, "labels", "label keys"},
		{"container type docker", `{"id":"a","cmd":"x","container":{"type":"DOCKER"}}`, "container.type", "MESOS"},
		{"bad sha256", `{"id":"a","cmd":"x","container":{"rootfs":{"image":"file:///i.tar","sha256":"abc"}}}`, "container.rootfs.sha256", "64 lowercase hex"},
		{"sha256 without image", `{"id":"a","cmd":"x","container":{"rootfs":{"sha256":"` + strings.Repeat("0", 64) + `"}}}`, "container.rootfs.sha256", "without an image"},
		{"base version without base", `{"id":"a","cmd":"x","container":{"rootfs":{"baseVersion":"1"}}}`, "container.rootfs.baseVersion", "without a base"},
		{"bridge network", `{"id":"a","cmd":"x","networks":[{"mode":"container/bridge"}]}`, "networks[0].mode", `"host" or "none"`},
		{"two networks", `{"id":"a","cmd":"x","networks":[{"mode":"host"},{"mode":"none"}]}`, "networks", "at most one"},
		{"user with a newline", `{"id":"a","cmd":"x","user":"a\nb"}`, "user", "user name"},
		{"base with slash", `{"id":"a","cmd":"x","container":{"rootfs":{"base":"../x"}}}`, "container.rootfs.base", "letters"},
		{"backoff factor below one", `{"id":"a","cmd":"x","backoffFactor":0.5}`, "backoffFactor", "between 1 and 100"},
		{"negative backoff", `{"id":"a","cmd":"x","backoffSeconds":-1}`, "backoffSeconds", "between 0"},
		{"NUL in cmd", `{"id":"a","cmd":"x\u0000y"}`, "cmd", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeApp(strings.NewReader(tt.json))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, errInvalid) {
				t.Fatalf("error %v does not wrap errInvalid", err)
			}
			var fe *fieldError
			if tt.field != "" {
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("error %q names field %+v, want %q", err, fe, tt.field)
				}
			}
			if !strings.Contains(err.Error(), tt.in) {
				t.Fatalf("error %q does not say %q", err, tt.in)
			}
		})
	}
}

func TestDecodeAppRejectsOversizedBody(t *testing.T) {
	big := `{"id":"a","cmd":"` + strings.Repeat("x", maxAppBytes) + `"}`
	_, err := DecodeApp(strings.NewReader(big))
	if !errors.Is(err, errTooLarge) || !errors.Is(err, errInvalid) {
		t.Fatalf("error = %v, want errTooLarge", err)
	}
}

func TestLoadAppsRejectsBadDirectories(t *testing.T) {
	dup := t.TempDir()
	for _, name := range []string{"a.json", "b.json"} {
		if err := os.WriteFile(filepath.Join(dup, name), []byte(`{"id":"same","cmd":"x"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "broken.json"), []byte(`{"id":"x","cmd":"x","cpus":-1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		is   error
		in   string
	}{
		{"two files define one app", dup, errExists, "also defined in"},
		{"invalid app names the file", bad, errInvalid, "broken.json"},
		{"missing directory", filepath.Join(dup, "nope"), os.ErrNotExist, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadApps(tt.dir)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.in) {
				t.Fatalf("error = %v, want %v naming %q", err, tt.is, tt.in)
			}
		})
	}
}

func TestWriteAppFileLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	a := mustApp(t, `{"id":"/a/web","cmd":"x","constraints":[["rack","GROUP_BY","3"]]}`)
	path := filepath.Join(dir, appFileName(a.ID))
	if err := writeAppFile(path, a); err != nil {
		t.Fatal(err)
	}
	apps, err := loadApps(dir)
	if err != nil || len(apps) != 1 || !sameDefinition(apps[0], a) {
		t.Fatalf("reloaded %+v, %v", apps, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a_web.json" {
		t.Fatalf("directory holds %v, want only a_web.json", entries)
	}
	if err := removeAppFile(path); err != nil {
		t.Fatal(err)
	}
	if err := removeAppFile(path); err != nil {
		t.Fatalf("removing a removed file: %v", err)
	}
}

func TestTaskInfoCarriesUserAndNetwork(t *testing.T) {
	a, err := DecodeApp(strings.NewReader(`{"id":"/batch","cmd":"x","cpus":0.1,"mem":32,"user":"nobody","networks":[{"mode":"none"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ti := taskInfo(&a, &task{id: "batch.1"}, "o1", "")
	if ti.User != "nobody" || ti.Network != "none" {
		t.Errorf("task info user %q network %q, want nobody and none", ti.User, ti.Network)
	}
}
