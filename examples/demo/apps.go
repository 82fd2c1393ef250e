//go:build linux

package main

import (
	"embed"
	"path"
)

// apps holds the demo's sample apps in Marathon's JSON: "batch" spreads six
// instances over the racks (rack GROUP_BY); "indexer" wants an attribute
// ssd:true that no agent has until someone sets it, so the dashboard shows
// it pending with the reason.
//
//go:embed apps/*.json
var apps embed.FS

// sampleApps returns the sample apps' definitions.
func sampleApps() [][]byte {
	entries, err := apps.ReadDir("apps")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var out [][]byte
	for _, e := range entries {
		b, err := apps.ReadFile(path.Join("apps", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
