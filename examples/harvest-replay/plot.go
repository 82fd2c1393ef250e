package main

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/reserve"
)

// writePlot replays tr with c and draws, for CPU and memory, the capacity,
// the business usage, the line the reservation leaves to the business
// (capacity minus what was lent) and the violating intervals, as SVG (or
// PNG if path ends in .png). The file is written to a temporary name and
// renamed, so a reader never sees half of it.
func writePlot(path string, tr reserve.Trace, c candidate) error {
	var cpu, mem [4]plotter.XYs // capacity, business, kept for business, violations
	t0 := tr.Samples[0].Time
	hours := func(t time.Time) float64 { return t.Sub(t0).Hours() }
	const gib = 1 << 30
	sc, err := reserve.Replay(tr, c.policy, c.hysteresis, reserve.WithOnStep(func(s reserve.Step) {
		x := hours(s.Time)
		cpu[0] = append(cpu[0], plotter.XY{X: x, Y: s.Capacity.CPUCores})
		cpu[1] = append(cpu[1], plotter.XY{X: x, Y: s.Business.CPUCores})
		cpu[2] = append(cpu[2], plotter.XY{X: x, Y: s.Capacity.CPUCores - s.Lent.CPUCores})
		if s.CPUViolation {
			cpu[3] = append(cpu[3], plotter.XY{X: x, Y: s.Business.CPUCores})
		}
		mem[0] = append(mem[0], plotter.XY{X: x, Y: s.Capacity.MemoryBytes / gib})
		mem[1] = append(mem[1], plotter.XY{X: x, Y: s.Business.MemoryBytes / gib})
		mem[2] = append(mem[2], plotter.XY{X: x, Y: (s.Capacity.MemoryBytes - s.Lent.MemoryBytes) / gib})
		if s.MemoryViolation {
			mem[3] = append(mem[3], plotter.XY{X: x, Y: s.Business.MemoryBytes / gib})
		}
	}))
	if err != nil {
		return err
	}
	top, err := panel(fmt.Sprintf("%s, %s: CPU harvest %.1f%%, violations %.2f%%", tr.Name, c.name,
		100*sc.CPU.HarvestRatio, 100*sc.CPU.ViolationRatio), "cores", cpu)
	if err != nil {
		return err
	}
	bottom, err := panel(fmt.Sprintf("memory harvest %.1f%%, violations %.2f%%",
		100*sc.Memory.HarvestRatio, 100*sc.Memory.ViolationRatio), "GiB", mem)
	if err != nil {
		return err
	}
	const width, height = 40 * vg.Centimeter, 24 * vg.Centimeter
	var canvas interface {
		vg.CanvasSizer
		io.WriterTo
	}
	if strings.EqualFold(filepath.Ext(path), ".png") {
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
	} else {
		canvas = vgsvg.New(width, height)
	}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Centimeter / 2, PadBottom: vg.Centimeter / 2, PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter / 2}
	plots := [][]*plot.Plot{{top}, {bottom}}
	cs := plot.Align(plots, tiles, draw.New(canvas))
	for i, row := range plots {
		row[0].Draw(cs[i][0])
	}
	var out bytes.Buffer
	if _, err := canvas.WriteTo(&out); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, out.Bytes(), 0o644)
}

func panel(title, unit string, series [4]plotter.XYs) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "hours"
	p.Y.Label.Text = unit
	p.Legend.Top = true
	colors := []color.Color{
		color.RGBA{R: 90, G: 90, B: 90, A: 255},
		color.RGBA{R: 31, G: 119, B: 180, A: 255},
		color.RGBA{R: 44, G: 160, B: 44, A: 255},
	}
	labels := []string{"capacity", "business usage", "kept for business (capacity − lent)"}
	for i := range 3 {
		if len(series[i]) == 0 {
			continue
		}
		l, err := plotter.NewLine(series[i])
		if err != nil {
			return nil, err
		}
		l.Color = colors[i]
		l.Width = vg.Points(0.8)
		p.Add(l)
		p.Legend.Add(labels[i], l)
	}
	if len(series[3]) > 0 {
		s, err := plotter.NewScatter(series[3])
		if err != nil {
			return nil, err
		}
		s.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		s.Shape = draw.CircleGlyph{}
		s.Radius = vg.Points(2)
		p.Add(s)
		p.Legend.Add("violation", s)
	}
	return p, nil
}
