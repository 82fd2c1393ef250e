package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws "[#####.....]  50%  1.2/2.4 MiB" on one terminal line.
type progressBar struct {
	w           io.Writer
	name        string
	last        time.Time
	done, total int64
	drawn       bool
}

func (b *progressBar) update(done, total int64) {
	b.done, b.total = done, total
	if now := time.Now(); now.Sub(b.last) >= 100*time.Millisecond || (total > 0 && done == total) {
		b.last = now
		b.draw()
	}
}

func (b *progressBar) draw() {
	const width = 30
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	if b.total <= 0 {
		fmt.Fprintf(b.w, "\r%s %.1f MiB", b.name, mib(b.done))
	} else {
		// A file that grows while read goes past its announced size.
		filled := int(min(int64(width)*b.done/b.total, width))
		fmt.Fprintf(b.w, "\r[%s%s] %3d%% %.1f/%.1f MiB %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			100*b.done/b.total, mib(b.done), mib(b.total), b.name)
	}
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
