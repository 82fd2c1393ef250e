package monitor

import "fmt"

// businessUsage subtracts Gleaner's own usage from the host's. A figure
// that would come out negative is clamped to zero and a note says which
// inputs disagreed and by how much.
func businessUsage(host HostSample, own OwnUsage) BusinessUsage {
	var b BusinessUsage
	if host.Rates != nil && own.CPUCores != nil {
		hostCPU, ownCPU := host.Rates.CPU.Used, *own.CPUCores
		v := hostCPU - ownCPU
		if v < 0 {
			b.Notes = append(b.Notes, fmt.Sprintf(
				"own CPU %.3f cores (%s) exceeds host CPU used %.3f cores: the two are read at slightly different instants and own CPU counts whole ticks; business CPU clamped to 0",
				ownCPU, own.Source, hostCPU))
			v = 0
		}
		b.CPUCores = &v
	}
	hostMem := host.Memory.UsedBytes
	if own.MemoryBytes > hostMem {
		b.Notes = append(b.Notes, fmt.Sprintf(
			"own memory %d bytes (%s) exceeds host memory used %d bytes (MemTotal-MemAvailable): shared pages counted per process, or reclaimable cache in the own figure; business memory clamped to 0",
			own.MemoryBytes, own.Source, hostMem))
	}
	b.MemoryBytes = sub(hostMem, own.MemoryBytes)
	return b
}
