//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// TestPrintedCommandsWork runs the curl commands the demo prints, as a
// user would paste them: one posts an app to the framework with the demo's
// credentials, the other reads the master's state. Without the
// credentials both are refused.
func TestPrintedCommandsWork(t *testing.T) {
	testenv.RequireBinary(t, "curl")
	c := startDemo(t)
	var intro bytes.Buffer
	printIntro(&intro, c)
	command := func(label string) string {
		m := regexp.MustCompile(`(?m)^\s+` + label + `:\s+(curl .*)$`).FindStringSubmatch(intro.String())
		if m == nil {
			t.Fatalf("no %q line in:\n%s", label, intro.String())
		}
		return m[1]
	}
	sh := func(cmdline string) (string, error) {
		out, err := exec.Command("sh", "-c", cmdline).CombinedOutput()
		return string(out), err
	}

	out, err := sh(command("post an app"))
	if err != nil || !strings.Contains(out, `"/demo/hello"`) {
		t.Fatalf("post an app: %v\n%s", err, out)
	}
	out, err = sh(command("master state"))
	var st api.State
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.MasterID == "" || st.Insecure {
		t.Fatalf("master state: %v\n%s", err, out)
	}

	// The same commands without a client certificate are refused.
	strip := regexp.MustCompile(` --cert \S+ --key \S+`)
	for _, label := range []string{"post an app", "master state"} {
		out, err := sh(strip.ReplaceAllString(command(label), "") + ` -o /dev/null -w '%{http_code}'`)
		if err != nil || out != "401" {
			t.Errorf("%s without credentials: %q %v, want 401", label, out, err)
		}
	}
}
