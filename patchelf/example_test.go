package patchelf_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gleaner/gleaner/patchelf"
)

func ExampleOpen() {
	f, err := patchelf.Open("testdata/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	interp, _ := f.Interpreter()
	needed, _ := f.Needed()
	fmt.Println(interp, needed, f.Info().Machine)
	// Output: /lib64/ld-linux-x86-64.so.2 [libc.so.6] EM_X86_64
}

func ExampleFile_SetRPath() {
	dir, _ := os.MkdirTemp("", "gleaner-example-patchelf-")
	defer os.RemoveAll(dir)
	f, err := patchelf.Open("testdata/hello32")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	f.SetRPath("$ORIGIN/../lib")
	out := filepath.Join(dir, "hello32")
	if err := f.SaveAs(out); err != nil {
		fmt.Println(err)
		return
	}
	g, _ := patchelf.Open(out)
	defer g.Close()
	rp, _ := g.RPath()
	fmt.Println(rp)
	// Output: $ORIGIN/../lib
}
