package framework

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gleaner/gleaner/internal/atomicfile"
)

// loadApps reads every *.json file in dir as one app definition (see
// DecodeApp), in file name order. Other files are ignored. An error names
// the file; two files defining one app ID are an error too.
func loadApps(dir string) ([]App, error) {
	apps, _, err := readAppDir(dir)
	return apps, err
}

// readAppDir is loadApps that also returns the file each app came from.
func readAppDir(dir string) ([]App, map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("apps directory %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("apps directory: %w", err)
	}
	sort.Strings(paths)
	var apps []App
	files := make(map[string]string)
	for _, p := range paths {
		a, err := readAppFile(p)
		if err != nil {
			return nil, nil, err
		}
		if other, ok := files[a.ID]; ok {
			return nil, nil, fmt.Errorf("%s: app %q is also defined in %s: %w", p, a.ID, other, errExists)
		}
		files[a.ID] = p
		apps = append(apps, a)
	}
	return apps, files, nil
}

func readAppFile(path string) (App, error) {
	f, err := os.Open(path)
	if err != nil {
		return App{}, err
	}
	defer f.Close()
	a, err := DecodeApp(f)
	if err != nil {
		return App{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// appFileName is the file an app is saved to when it did not come from a
// file: its ID with '/' as '_' ("/a/web" → "a_web.json").
func appFileName(id string) string {
	return strings.TrimSuffix(taskIDPrefix(id), ".") + ".json"
}

// writeAppFile saves an app as indented JSON (atomicfile: a crash never
// leaves half a definition behind).
func writeAppFile(path string, a App) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save app %q: %w", a.ID, err)
	}
	return nil
}

// removeAppFile deletes a saved app; a file already gone is not an error.
func removeAppFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove app file: %w", err)
	}
	return nil
}

// sameDefinition reports whether two apps encode identically.
func sameDefinition(a, b App) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
