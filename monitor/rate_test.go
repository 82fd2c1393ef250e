package monitor

import (
	"testing"
	"time"
)

func TestCPURate(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var r CPURate
	steps := []struct {
		name    string
		seconds float64
		at      time.Time
		cores   float64
		ok      bool
	}{
		{"first reading has no rate", 10, t0, 0, false},
		{"1.5 s used in 2 s", 11.5, t0.Add(2 * time.Second), 0.75, true},
		{"same instant gives no rate", 12, t0.Add(2 * time.Second), 0, false},
		{"a counter that went back is no use, not negative", 3, t0.Add(3 * time.Second), 0, true},
		{"it counts on from the new value", 5, t0.Add(5 * time.Second), 1, true},
	}
	for _, s := range steps {
		cores, ok := r.Observe(s.seconds, s.at)
		if cores != s.cores || ok != s.ok {
			t.Fatalf("%s: Observe(%v, +%v) = %v, %v; want %v, %v", s.name, s.seconds, s.at.Sub(t0), cores, ok, s.cores, s.ok)
		}
	}
	r.Reset()
	if _, ok := r.Observe(6, t0.Add(6*time.Second)); ok {
		t.Fatal("the first reading after Reset gave a rate")
	}
}
