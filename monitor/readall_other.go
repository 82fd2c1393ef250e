//go:build !unix

package monitor

import "os"

// readAll reads path; see readall_unix.go.
func readAll(path string, buf []byte) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return buf[:0], err
	}
	return data, nil
}
